"""The pacing schedule: every rolling window holds, from the first second, whatever the load."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from campaigner.dispatch.shared_throttle import SharedThrottle
from campaigner.dispatch.throttle import Limits, RollingWindow, Throttle


class FakeClock:
    """A clock the test moves by hand, so schedules are checked exactly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def max_in_any_window(starts: list[tuple[float, int]], window: float) -> int:
    """The most units whose start lies in any half-open window (t - window, t]."""
    best = 0
    for end, _ in starts:
        held = sum(units for when, units in starts if end - window < when <= end)
        best = max(best, held)
    return best


def reserve_many(throttle: Throttle, count: int, messages: int = 1) -> list[float]:
    return [throttle.reserve(messages) for _ in range(count)]


def test_no_start_up_burst_and_every_minute_holds() -> None:
    clock = FakeClock()
    throttle = Throttle(Limits(requests_per_minute=60, messages_per_second=10), clock=clock)
    starts = reserve_many(throttle, 200)
    assert starts == sorted(starts)
    # The first second carries one request (the per-second share of 60/min), not a bucket's worth.
    assert sum(1 for s in starts if s < clock.now + 1.0) == 1
    assert max_in_any_window([(s, 1) for s in starts], 60.0) <= 60
    # And it is not slower than it may be: 200 requests take about 199 s.
    assert starts[-1] - starts[0] == pytest.approx(199, rel=0.01)


def test_message_limit_with_batches() -> None:
    clock = FakeClock()
    throttle = Throttle(Limits(requests_per_minute=6000, messages_per_second=10), clock=clock)
    starts = reserve_many(throttle, 50, messages=5)
    assert max_in_any_window([(s, 5) for s in starts], 1.0) <= 10
    # Ten messages a second: 50 batches of 5 take about 25 s.
    assert starts[-1] - starts[0] == pytest.approx(24.5, rel=0.02)


def test_backlog_after_idle_does_not_burst() -> None:
    clock = FakeClock()
    throttle = Throttle(Limits(requests_per_minute=60, messages_per_second=10), clock=clock)
    first = reserve_many(throttle, 30)
    clock.now += 500  # idle long past every window
    second = reserve_many(throttle, 90)
    starts = [(s, 1) for s in first + second]
    assert max_in_any_window(starts, 60.0) <= 60
    assert sum(1 for s in second if s < clock.now + 1.0) == 1


def test_mixed_batch_sizes_stay_in_call_order() -> None:
    clock = FakeClock()
    throttle = Throttle(Limits(requests_per_minute=600, messages_per_second=10), clock=clock)
    sizes = [1, 1, 10, 1, 1, 1, 10, 1]
    starts = [(throttle.reserve(n), n) for n in sizes]
    assert [s for s, _ in starts] == sorted(s for s, _ in starts)
    assert max_in_any_window(starts, 1.0) <= 10


def test_batch_larger_than_limit_is_refused() -> None:
    window = RollingWindow(limit=10, window=1.0)
    with pytest.raises(ValueError, match="can never fit"):
        window.earliest(11, 0.0)


def test_throttled_pauses_everyone_and_lowers_the_rate() -> None:
    clock = FakeClock()
    throttle = Throttle(Limits(requests_per_minute=600, messages_per_second=100), clock=clock)
    reserve_many(throttle, 5)
    throttle.on_throttled(retry_after=7.0)
    assert throttle.reserve(1) >= clock.now + 7.0
    assert throttle.requests_per_minute < 600


def test_rate_limit_header_settles_below_the_real_limit() -> None:
    clock = FakeClock()
    throttle = Throttle(Limits(requests_per_minute=600, messages_per_second=100), clock=clock)
    throttle.on_rate_limit(limit=300, remaining=250)
    assert 280 <= throttle.requests_per_minute < 300
    for _ in range(10_000):
        throttle.on_success()
    # Success never climbs back above what the provider said.
    assert throttle.requests_per_minute < 300


def test_success_climbs_back_after_a_spurious_throttle_but_not_past_it() -> None:
    clock = FakeClock()
    throttle = Throttle(Limits(requests_per_minute=600, messages_per_second=100), clock=clock)
    throttle.on_throttled(retry_after=1.0)
    low = throttle.requests_per_minute
    for _ in range(10_000):
        throttle.on_success()
    assert low < throttle.requests_per_minute <= 600 * 0.97 + 1e-9


async def test_real_time_pacing_at_scaled_limits() -> None:
    """Against the real clock: 40 concurrent callers at 20 msg/s keep every 1 s window at 20."""
    throttle = Throttle(Limits(requests_per_minute=60_000, messages_per_second=20))
    started: list[tuple[float, int]] = []

    async def caller() -> None:
        await throttle.acquire(1)
        started.append((time.monotonic(), 1))

    began = time.monotonic()
    await asyncio.gather(*(caller() for _ in range(41)))
    elapsed = time.monotonic() - began
    assert max_in_any_window(started, 1.0) <= 20
    # 41 starts at 20/s: the last starts about 2 s after the first; generous tolerance for a busy host.
    assert 1.9 <= elapsed <= 3.0


class _Schedule:
    """A ScheduleStore in memory: one GCRA over every key, as rates.sql's reserve-start."""

    def __init__(self) -> None:
        self.tat = float("-inf")
        self.idle_delays: list[float] = []

    async def reserve_start(
        self, keys: Sequence[str], costs: Sequence[float], idle_delay: float = 0.0
    ) -> float:
        self.idle_delays.append(idle_delay)
        at = max(self.tat, time.time() + idle_delay)
        self.tat = at + max(costs)
        return at

    async def push_schedule(self, key: str, seconds: float) -> None:
        self.tat = max(self.tat, time.time() + seconds)


async def test_an_idle_shared_schedule_starts_at_a_random_phase_of_its_slot_and_a_busy_one_at_once() -> None:
    # Accounts whose campaigns start together would otherwise send in step (shared_throttle.py).
    schedule = _Schedule()
    throttle = SharedThrottle(Limits(6000, 5, margin=0.0), schedule, "a")
    cost = throttle.slot_seconds(1)  # 0.2 s
    await throttle.acquire()
    await throttle.acquire()  # the first slot's end was not past yet: booked, no delay
    assert 0.0 <= schedule.idle_delays[0] < cost
    assert schedule.idle_delays[1] == 0.0
    delays = set()
    for account in range(20):
        idle = _Schedule()
        await SharedThrottle(Limits(6000, 5, margin=0.0), idle, f"a{account}")._reserve(1)
        delays.add(round(idle.idle_delays[0], 3))
    assert len(delays) > 10  # spread, not one phase for all
