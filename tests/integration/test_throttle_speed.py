"""The throttle's fast paths: reservations in O(1) while a window has room, late wake-ups, result batches."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import pytest

from campaigner.dispatch.recorder import BACKLOG, FLUSH_AT, ResultRecorder
from campaigner.dispatch.throttle import Limits, RollingWindow, Throttle
from campaigner.model.jobs import JobResult
from campaigner.model.states import JobState


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


def test_moved_reservations_keep_every_window() -> None:
    rng = random.Random(11)
    window = RollingWindow(30, 1.0, margin=0.02)
    log: list[tuple[float, int]] = []
    now = 0.0
    moved = 0
    for _ in range(4_000):
        now += rng.choice([0.0, 0.002, 0.05, 0.4])
        units = rng.randint(1, 8)
        start = window.earliest(units, now)
        window.commit(start, units)
        log.append((start, units))
        if log and rng.random() < 0.3:
            # An earlier reservation wakes late and asks to move.
            old = rng.choice(log[-5:])
            to = old[0] + rng.choice([0.005, 0.03, 0.2, 1.5])
            if window.can_move(old[0], to, old[1]):
                window.move(old[0], to, old[1])
                log.remove(old)
                log.append((to, old[1]))
                moved += 1
        recent = log[-200:]  # 200 reservations span several windows at 30 units a window
        for end, _ in recent[-40:]:
            assert sum(n for w, n in recent if end - 1.02 + 1e-9 < w <= end) <= 30
    assert moved > 100


def test_a_long_window_at_a_high_limit_costs_no_walk_per_request() -> None:
    # 60,000,000 requests a minute: every reservation of a 20,000-request run lies in one window.
    throttle = Throttle(Limits(60_000_000, 1_000_000))
    began = time.perf_counter()
    for _ in range(20_000):
        throttle.reserve(1)
    assert time.perf_counter() - began < 0.5


def late_sleep(clock: list[float], lateness: list[float]) -> Any:
    """An asyncio.sleep on a fake clock that lets others run, then overshoots by `lateness[0]` once."""
    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        await real_sleep(0)
        clock[0] += delay + lateness[0]
        lateness[0] = 0.0
        return result

    return sleep


async def test_a_sender_woken_late_moves_its_slot_when_every_window_allows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, lateness = [100.0], [0.05]  # the first sleep overshoots by 50 ms: a busy machine
    throttle = Throttle(Limits(60, 10, request_window=60.0), clock=lambda: clock[0], margin=0.02)
    await throttle.acquire(1)
    monkeypatch.setattr(asyncio, "sleep", late_sleep(clock, lateness))

    second = await throttle.acquire(1)

    assert throttle.late_wakes == 0
    assert second == clock[0] == 101.05  # sent late, and counted where it was sent
    assert throttle.in_window() == (2, 1)


async def test_a_sender_woken_late_takes_a_new_slot_when_moving_would_overfill_a_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 2 messages a second: slots at 100, 100.5, then 101.02 and 101.52 (a window + margin later).
    clock, lateness = [100.0], [0.05]
    throttle = Throttle(Limits(6_000, 2), clock=lambda: clock[0], margin=0.02)
    await throttle.acquire(1)
    real_sleep = asyncio.sleep
    monkeypatch.setattr(asyncio, "sleep", late_sleep(clock, lateness))
    late = asyncio.create_task(throttle.acquire(1))  # slot 100.5, then asleep
    await real_sleep(0)
    # Meanwhile others reserve on: 101.52 is one window + margin after the sleeper's slot, so the
    # sleeper, sent at 100.55, would make three in (100.53, 101.55].
    planned = [throttle.reserve(1), throttle.reserve(1)]

    second = await late

    assert planned == [pytest.approx(101.02), pytest.approx(101.52)]
    assert throttle.late_wakes == 1
    assert second >= planned[-1] + 0.5 and clock[0] == second


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


async def test_without_a_margin_ordinary_wake_up_delays_are_not_late(monkeypatch: pytest.MonkeyPatch) -> None:
    class FromElsewhere(Throttle):
        """Start times from outside (as SharedThrottle's database): slots cannot be moved."""

        async def _reserve(self, messages: int) -> float:
            return self.reserve(messages)

    clock = [100.0]

    async def sleep(delay: float, result: Any = None) -> Any:
        clock[0] += delay + 0.0005  # every wake-up half a millisecond after its time
        return result

    throttle = FromElsewhere(Limits(6_000, 100), clock=lambda: clock[0], margin=0.0)
    monkeypatch.setattr(asyncio, "sleep", sleep)
    for _ in range(200):
        await asyncio.wait_for(throttle.acquire(1), 1)
    assert throttle.late_wakes == 0
