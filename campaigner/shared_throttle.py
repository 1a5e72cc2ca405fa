"""One account's limits held by several daemons together, through the database they share.

Each limit of an account is a schedule row in PostgreSQL (`rate_schedule`, GCRA with no burst): a
request asks the database for one start time that both the request schedule and the message
schedule allow, and moves both on by its cost. So every daemon, on one machine or many, is paced by
one clock, and their requests together stay within the limits. The adaptation (429s, headers)
stays per process, and a 429 also pushes the shared schedule so that every daemon waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from campaigner.throttle import Limits, Throttle

log = logging.getLogger(__name__)


class ScheduleStore(Protocol):
    """What the shared throttle needs of the store."""

    async def reserve_start(self, keys: Sequence[str], costs: Sequence[float]) -> float: ...
    async def push_schedule(self, key: str, seconds: float) -> None: ...


class SharedThrottle(Throttle):
    """A Throttle whose start times come from the database, shared by every daemon of `account`."""

    def __init__(
        self,
        limits: Limits,
        store: ScheduleStore,
        account: str,
        clock: Callable[[], float] = time.monotonic,
        margin: float | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(limits, clock, margin)
        self._wall = wall
        self._store = store
        self._margin = limits.margin if margin is None else margin
        # Sorted: rows are locked in key order (see reserve-start).
        self._messages_key = f"{account}:messages"
        self._requests_key = f"{account}:requests"
        self._pushes: set[asyncio.Task[None]] = set()

    def _costs(self, messages: int) -> list[float]:
        # Each unit costs its share of the window plus the margin, so that `limit` units always span
        # a little more than a window, whatever the arrival jitter.
        request = (self._requests.window + self._margin) / self._requests.limit
        message = messages * (self._messages.window + self._margin) / self._messages.limit
        return [message, request]

    async def _reserve(self, messages: int) -> float:
        keys = [self._messages_key, self._requests_key]
        at = await self._store.reserve_start(keys, self._costs(messages))
        # The schedule is kept in wall-clock time, which every daemon shares (one machine's clock, or
        # NTP's); the local pacing runs on the monotonic clock.
        now = self._clock()
        start = now + (at - self._wall())
        # Not clamped to now: a slot that is already past when the answer arrives (a slow round trip)
        # makes `acquire` see it is late and take a new one, rather than send closer than a cost to
        # the next daemon's slot.
        return max(start, self._paused_until)

    def on_throttled(self, retry_after: float | None) -> None:
        """Pause here and, through the database, every other daemon on this account."""
        super().on_throttled(retry_after)
        wait = self._paused_until - self._clock()
        if wait > 0:
            task = asyncio.get_running_loop().create_task(self._push(wait))
            self._pushes.add(task)
            task.add_done_callback(self._pushes.discard)

    async def _push(self, seconds: float) -> None:
        try:
            await self._store.push_schedule(self._requests_key, seconds)
        except Exception as exc:  # the local pause still holds; the others find their own 429
            log.warning("could not share a provider pause: %s", exc)
