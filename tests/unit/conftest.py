"""The unit tier: pure logic, no database and no socket.

A test here that tries to reach the network (PostgreSQL, the sandbox, a provider) fails at once
instead of quietly becoming an integration test. Unix sockets stay open: asyncio's event loop
wakes itself through a socket pair.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _refuse(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        raise AssertionError(f"a unit test connected to {address}: it belongs in tests/integration")
    return _real_connect(self, address)


def _refuse_ex(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        raise AssertionError(f"a unit test connected to {address}: it belongs in tests/integration")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse_ex)
    yield
