"""One account's limits held by several daemons together, through the database they share.

Each limit of an account is a schedule row in PostgreSQL (`rate_schedule`, GCRA with no burst): a
request asks the database for one start time that both the request schedule and the message
schedule allow, and moves both on by its cost (senders asking at once share one round trip for a
slice of consecutive slots). So every daemon, on one machine or many, is paced by
one clock, and their requests together stay within the limits. The adaptation (429s, headers)
stays per process, and a 429 also pushes the shared schedule so that every daemon waits.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable

from campaigner.dispatch.ports import ScheduleStore
from campaigner.dispatch.throttle import Limits, Throttle

log = logging.getLogger(__name__)

# A slice of slots reserved in one round trip covers at most this much of the schedule, and this
# many requests: a slot not used (a stop, a pause) is lost, never given to anyone else.
SLICE_SECONDS = 0.25
MAX_SLICE = 64


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
        # Slots reserved in the database and not handed out yet, by messages per request.
        self._slots: dict[int, deque[float]] = {}
        self._fetching = asyncio.Lock()
        self._waiting = 0
        self._request_units = 1  # the most units one request of this process may carry
        self._booked_until = float("-inf")  # the end of the last slice reserved (monotonic)

    def expect_requests_of(self, units: int) -> None:
        """Requests will carry up to `units` messages (or segments): see `_slot_cost`."""
        self._request_units = max(self._request_units, min(units, self.max_messages_per_request()))

    def slot_seconds(self, messages: int) -> float:
        """Every request here costs what the largest one does (`_slot_cost`), so that is its share."""
        return self._slot_cost(messages)

    def _slot_cost(self, messages: int) -> float:
        """Seconds of the shared schedule one request of `messages` units takes.

        The schedule is a GCRA: a request moves it on by its cost *after* it starts. That keeps every
        rolling window within the limit only when requests cost the same: a 1-message request 0.05 s
        after a batch of 20 would be followed, 0.05 s later, by the next batch of 20, so 21 messages
        go out in one second where the limit is 20. So every request is charged as the largest one
        this process sends (`expect_requests_of`): at most floor(limit / largest) requests start in
        any window, each with at most `largest` units, and `limit` always spans a little more than
        a window (the margin), whatever the arrival jitter. A request takes the larger of its two.
        """
        request = (self._requests.window + self._margin) / self._requests.limit
        largest = max(messages, self._request_units)
        per_window = max(1, int(self._messages.limit) // largest)
        message = (self._messages.window + self._margin) / per_window
        return max(request, message)

    async def _reserve(self, messages: int) -> float:
        # Senders that ask at the same time share one round trip: whoever fetches reserves a slice of
        # consecutive slots for everyone waiting (at most SLICE_SECONDS of schedule), the rest take
        # theirs from the pool. One statement per request capped the rate at the database's pace.
        pool = self._slots.setdefault(messages, deque())
        self._waiting += 1
        try:
            async with self._fetching:
                if not pool:
                    await self._fetch(messages, pool)
                start = pool.popleft()
        finally:
            self._waiting -= 1
        # Not clamped to now, nor to a pause: a slot that is already past (a slow round trip, a slot
        # that waited in the pool) or inside a pause makes `acquire` take a new one, rather than send
        # closer than a cost to its neighbours.
        return start

    async def _fetch(self, messages: int, pool: deque[float]) -> None:
        cost = self._slot_cost(messages)
        count = max(1, min(self._waiting, MAX_SLICE, int(SLICE_SECONDS / cost)))
        keys = [self._messages_key, self._requests_key]
        # An idle schedule starts now, so a hundred accounts whose campaigns start together would
        # send in step, a hundred requests at once every slot: the last of each burst leaves (and
        # is stamped) tens of milliseconds after the first, more than the margin, and the order
        # changes from burst to burst, so the provider sees an account's requests closer than
        # planned (429s). A random part of a slot puts each account's slots at a phase of its own.
        # Only when our own last slot is past (the schedule likely idle): a busy one is not delayed.
        idle_delay = random.uniform(0.0, cost) if self._booked_until <= self._clock() else 0.0
        at = await self._store.reserve_start(keys, [cost * count, cost * count], idle_delay)
        # The schedule is kept in wall-clock time, which every daemon shares (one machine's clock, or
        # NTP's); the local pacing runs on the monotonic clock.
        first = self._clock() + (at - self._wall())
        pool.extend(first + i * cost for i in range(count))
        self._booked_until = first + count * cost

    def on_throttled(self, retry_after: float | None) -> None:
        """Pause here and, through the database, every other daemon on this account."""
        super().on_throttled(retry_after)
        self._slots.clear()  # reserved before the 429: none of them may be used now
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
