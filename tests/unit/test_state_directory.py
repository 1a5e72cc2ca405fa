"""Under systemd's StateDirectory= the embedded database lives there (the user may have no home)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from campaigner.config import config_from_mapping
from campaigner.store.embedded.server import data_dir, default_data_dir


def test_state_directory_wins_over_the_home_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/campaigner:/var/lib/other")
    monkeypatch.setenv("HOME", "/nonexistent")
    assert default_data_dir() == Path("/var/lib/campaigner/pg")
    assert data_dir(config_from_mapping({})) == Path("/var/lib/campaigner/pg")
    # A configured data_dir still wins over both.
    assert data_dir(config_from_mapping({"database": {"data_dir": "/srv/pg"}})) == Path("/srv/pg")


def test_without_it_the_default_is_unchanged(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    expected = Path("/var/lib/campaigner/pg") if os.geteuid() == 0 else tmp_path / "campaigner/pg"
    assert default_data_dir() == expected
