"""daemon.event_loop: which event loop `campaigner daemon` runs on."""

from __future__ import annotations

import sys

import pytest

from campaigner.cli.commands.daemon import loop_factory
from campaigner.errors import ConfigError


def test_asyncio_never_uses_uvloop() -> None:
    assert loop_factory("asyncio") is None


def test_auto_and_uvloop_use_it_when_installed() -> None:
    uvloop = pytest.importorskip("uvloop")
    assert loop_factory("auto") is uvloop.new_event_loop
    assert loop_factory("uvloop") is uvloop.new_event_loop


def test_without_uvloop_auto_falls_back_and_uvloop_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert loop_factory("auto") is None
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        loop_factory("uvloop")
