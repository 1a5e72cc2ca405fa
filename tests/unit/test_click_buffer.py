"""The short links' click buffer: bounded while the database does not take clicks, and its flusher
outlives an unexpected error (else every later click would be lost)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from campaigner.app.link_routes import BACKLOG_BATCHES, ClickBuffer
from campaigner.errors import DatabaseError
from campaigner.model.links import Click, LinkTarget


class Clicks:
    """The store's two link calls, in memory; `failures` raise in turn before any write succeeds."""

    def __init__(self, failures: Sequence[BaseException] = ()) -> None:
        self.failures = list(failures)
        self.stored: list[Click] = []
        self.wrote = asyncio.Event()

    async def link_targets(self, codes: Sequence[str]) -> dict[str, LinkTarget]:
        return {}

    async def record_clicks(self, clicks: list[Click]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.stored.extend(clicks)
        self.wrote.set()


def click(n: int) -> Click:
    return Click(f"code{n:04d}", datetime.now(UTC), False, None)


async def test_beyond_its_backlog_clicks_are_dropped_and_counted() -> None:
    buffer = ClickBuffer(Clicks(), interval=60, batch=2)
    room = 2 * BACKLOG_BATCHES
    for n in range(room + 3):
        buffer.add(click(n))
    assert (buffer.waiting, buffer.dropped) == (room, 3)


async def test_the_flusher_goes_on_after_an_unexpected_error_and_writes_everything_once() -> None:
    store = Clicks([RuntimeError("a bug"), DatabaseError("away")])
    buffer = ClickBuffer(store, interval=0.01, batch=1)
    task = asyncio.create_task(buffer.run())
    buffer.add(click(1))
    await asyncio.wait_for(store.wrote.wait(), 5)  # after the two failed tries
    buffer.add(click(2))
    buffer.stop()
    await task
    await buffer.flush()
    assert [c.code for c in store.stored] == ["code0001", "code0002"]
