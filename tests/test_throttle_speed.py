"""The throttle's fast paths: reservations in O(1) while a window has room, late wake-ups, result batches."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import pytest

from campaigner.dispatch_results import BACKLOG, FLUSH_AT, ResultRecorder
from campaigner.outcomes import JobResult, JobState
from campaigner.throttle import Limits, RollingWindow, Throttle


class OldWindow:
    """The reference: the walk back from the newest reservation that RollingWindow replaced."""

    def __init__(self, limit: float, window: float, margin: float) -> None:
        self.limit, self.window, self.margin = limit, window, margin
        self.log: deque[tuple[float, int]] = deque()
        self.next_even = float("-inf")

    def earliest(self, units: int, now: float) -> float:
        start = max(now, self.next_even)
        held = units
        for when, amount in reversed(self.log):
            held += amount
            if held > int(self.limit):
                return max(start, when + self.window + self.margin)
        return start

    def commit(self, start: float, units: int) -> None:
        self.log.append((start, units))
        self.next_even = start + units * self.window / self.limit
        while self.log and self.log[0][0] < start - self.window - self.margin:
            self.log.popleft()


def test_earliest_matches_the_walk_from_the_newest_reservation() -> None:
    rng = random.Random(5)
    window = RollingWindow(50, 1.0, margin=0.02)
    old = OldWindow(50, 1.0, 0.02)
    now = 0.0
    for step in range(5_000):
        if step % 700 == 699:
            limit = rng.choice([20, 50, 80])
            window.set_limit(limit)
            old.limit = limit
        now += rng.choice([0.0, 0.001, 0.01, 0.3])
        units = rng.randint(0, min(10, int(window.limit)))
        start = window.earliest(units, now)
        assert start == old.earliest(units, now)
        window.commit(start, units)
        old.commit(start, units)


def test_no_window_holds_more_than_the_limit() -> None:
    rng = random.Random(9)
    window = RollingWindow(40, 1.0, margin=0.02)
    log: list[tuple[float, int]] = []
    now = 0.0
    for _ in range(3_000):
        now += rng.choice([0.0, 0.002, 0.05, 0.5])
        units = rng.randint(1, 12)
        start = window.earliest(units, now)
        window.commit(start, units)
        log.append((start, units))
        # The window is half open, (start - 1.02, start]; 1e-9 absorbs float rounding at its edge.
        assert sum(n for w, n in log if start - 1.0 - 0.02 + 1e-9 < w <= start) <= 40


def test_a_long_window_at_a_high_limit_costs_no_walk_per_request() -> None:
    # 60,000,000 requests a minute: every reservation of a 20,000-request run lies in one window.
    throttle = Throttle(Limits(60_000_000, 1_000_000))
    began = time.perf_counter()
    for _ in range(20_000):
        throttle.reserve(1)
    assert time.perf_counter() - began < 0.5


async def test_a_sender_woken_late_takes_a_new_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    lateness = [0.05]  # the first sleep overshoots by 50 ms, a busy event loop
    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        clock[0] += delay + lateness[0]
        lateness[0] = 0.0
        await real_sleep(0)
        return result

    throttle = Throttle(Limits(60, 10, request_window=60.0), clock=lambda: clock[0], margin=0.02)
    first = await throttle.acquire(1)
    monkeypatch.setattr(asyncio, "sleep", sleep)
    second = await throttle.acquire(1)

    assert throttle.late_wakes == 1
    # The late slot was given up, not used: the request starts at a later slot, on time.
    assert second >= first + 2 * 60 / 60
    assert clock[0] - second <= 0.01


class SlowStore:
    """A store whose writes take a while, recording what it was given."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.gate = asyncio.Event()

    async def record_results(self, worker_id: str, results: Sequence[Any]) -> int:
        await self.gate.wait()
        self.calls.append(len(results))
        return len(results)


async def test_a_full_buffer_is_written_in_the_background_and_a_backlog_waits() -> None:
    store = SlowStore()
    recorder = ResultRecorder(store, "w", interval=60.0)
    await recorder.start()
    results = [JobResult(i, JobState.SUBMITTED, provider_id=str(i)) for i in range(BACKLOG + FLUSH_AT)]

    # A full buffer does not make the sender wait for the database.
    await asyncio.wait_for(recorder.add_many(results[:FLUSH_AT]), 1)
    # A backlog does.
    blocked = asyncio.create_task(recorder.add_many(results[FLUSH_AT:]))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    store.gate.set()
    await asyncio.wait_for(blocked, 5)
    await recorder.stop()

    assert sum(store.calls) == len(results)
    assert recorder.written == len(results)
