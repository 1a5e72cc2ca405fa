"""FairShare: the campaigns of one process take the account's throttle in turn ([dispatcher] fairness).

The order of turns is exact, so most tests use a throttle that grants at once and records who asked;
the last ones run real runners over the in-memory ports and one real Throttle.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from campaigner.dispatch.fair_share import FairShare, Lane
from campaigner.dispatch.runner import CampaignRunner
from campaigner.dispatch.throttle import Limits, Throttle
from campaigner.dispatch.worker import Worker
from campaigner.model.states import JobState
from tests.builders import numbers
from tests.unit.memory_ports import MemoryProvider, MemoryStore
from tests.unit.test_runner import fast_config


class Granting:
    """A throttle that lets every request start at once and remembers whose it was."""

    def __init__(self, per_message: float = 0.0) -> None:
        self.order: list[object] = []
        self.current: object = None
        self._per_message = per_message

    def slot_seconds(self, messages: int) -> float:
        return max(0.01, messages * self._per_message)

    async def acquire(self, messages: int = 1) -> float:
        self.order.append(self.current)
        await asyncio.sleep(0)
        return 0.0


async def senders(lane: Lane, throttle: Granting, count: int, stop: asyncio.Event, units: int = 1) -> None:
    """`count` senders on one lane, each asking again as soon as it got a slot, until `stop`."""

    async def one() -> None:
        while not stop.is_set():
            await lane._share.turn(lane, units)
            throttle.current = lane.key
            try:
                await throttle.acquire(units)
            finally:
                lane._share.done()

    await asyncio.gather(*(one() for _ in range(count)))


async def run_until(throttle: Granting, grants: int) -> None:
    while len(throttle.order) < grants:  # noqa: ASYNC110 (each turn is one step of the loop)
        await asyncio.sleep(0)


async def contend(
    share: FairShare, throttle: Granting, lanes: dict[str, tuple[int, int]], grants: int
) -> Counter[object]:
    """Lanes by name: (senders, priority); who had the first `grants` turns."""
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(senders(share.lane(name, priority), throttle, count, stop))
        for name, (count, priority) in lanes.items()
    ]
    await asyncio.wait_for(run_until(throttle, grants), 10)
    stop.set()
    await asyncio.gather(*tasks)
    return Counter(throttle.order[:grants])


async def test_round_robin_gives_equal_turns_whatever_the_number_of_senders() -> None:
    throttle = Granting()
    share = FairShare(throttle, "round_robin", depth=1)  # type: ignore[arg-type]
    counts = await contend(share, throttle, {"big": (16, 10), "small": (2, 90)}, 400)
    assert abs(counts["big"] - counts["small"]) <= 2  # the priority does not count under round_robin


async def test_priority_shares_in_proportion_to_the_priorities() -> None:
    throttle = Granting()
    share = FairShare(throttle, "priority", depth=1)  # type: ignore[arg-type]
    counts = await contend(share, throttle, {"low": (8, 10), "high": (8, 30)}, 400)
    assert counts["high"] == pytest.approx(3 * counts["low"], abs=4)


async def test_without_fairness_the_senders_decide() -> None:
    # The measure of what FairShare changes: a plain first-come queue (the throttle alone) gives
    # a campaign with eight times the senders eight times the turns.
    throttle = Granting()
    share = FairShare(throttle, "round_robin", depth=64)  # type: ignore[arg-type]
    counts = await contend(share, throttle, {"big": (16, 10), "small": (2, 10)}, 400)
    assert counts["big"] > 4 * counts["small"]


async def test_a_campaign_that_joins_late_gets_no_credit_for_the_time_it_was_away() -> None:
    throttle = Granting()
    share = FairShare(throttle, "round_robin", depth=1)  # type: ignore[arg-type]
    stop = asyncio.Event()
    big = asyncio.create_task(senders(share.lane("big"), throttle, 4, stop))
    await asyncio.wait_for(run_until(throttle, 500), 10)
    joined = len(throttle.order)
    small = asyncio.create_task(senders(share.lane("small"), throttle, 4, stop))
    await asyncio.wait_for(run_until(throttle, joined + 200), 10)
    stop.set()
    await asyncio.gather(big, small)
    after = Counter(throttle.order[joined : joined + 200])
    # It joins at once (its first turn within the depth), then alternates: no run of 500 turns.
    assert throttle.order.index("small") <= joined + 3
    assert abs(after["big"] - after["small"]) <= 3


async def test_a_campaign_with_less_work_leaves_its_share_to_the_others() -> None:
    throttle = Granting()
    share = FairShare(throttle, "round_robin", depth=1)  # type: ignore[arg-type]
    lane = share.lane("small")

    async def ten() -> None:
        for _ in range(10):
            await share.turn(lane, 1)
            throttle.current = "small"
            await throttle.acquire(1)
            share.done()

    stop = asyncio.Event()
    big = asyncio.create_task(senders(share.lane("big"), throttle, 4, stop))
    await asyncio.wait_for(ten(), 10)
    await asyncio.wait_for(run_until(throttle, 200), 10)
    stop.set()
    await big
    assert throttle.order[:200].count("small") == 10  # the rest all went to big: nothing idles


async def test_shares_are_in_throttle_time_not_in_requests() -> None:
    # A message-bound account: a request of 10 messages takes ten times the capacity of one of 1.
    throttle = Granting(per_message=0.01)
    share = FairShare(throttle, "round_robin", depth=1)  # type: ignore[arg-type]
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(senders(share.lane("batches"), throttle, 4, stop, units=10)),
        asyncio.create_task(senders(share.lane("singles"), throttle, 4, stop, units=1)),
    ]
    await asyncio.wait_for(run_until(throttle, 220), 10)
    stop.set()
    await asyncio.gather(*tasks)
    counts = Counter(throttle.order[:220])
    assert counts["singles"] == pytest.approx(10 * counts["batches"], abs=12)


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    throttle = Throttle(Limits(60, 1))  # one request a second: the second waits
    share = FairShare(throttle, "round_robin", depth=1)
    lane = share.lane(1)
    await lane.acquire(1)
    waiting = asyncio.create_task(lane.acquire(1))
    queued = asyncio.create_task(lane.acquire(1))
    await asyncio.sleep(0.05)
    queued.cancel()
    waiting.cancel()
    await asyncio.gather(waiting, queued, return_exceptions=True)
    assert share._admitted == 0 and not lane.waiting
    lane.close()
    assert share.shares() == {}


# -- runners over the in-memory ports --------------------------------------------------------------


async def test_a_small_campaign_started_after_a_big_one_gets_half_the_rate() -> None:
    # 100 msg/s for the account; each runner has 16 senders.
    config = fast_config(concurrency=16, batch_size=20)
    throttle = Throttle(Limits(60_000, 100, margin=0.0))
    share = FairShare(throttle, config.dispatcher.fairness)
    big_store, small_store = (
        MemoryStore(numbers(3000), campaign_id=1),
        MemoryStore(numbers(60), campaign_id=2),
    )
    provider = MemoryProvider()
    worker = Worker(big_store, config.dispatcher.heartbeat_interval, config.dispatcher.worker_timeout)
    await worker.start()
    await small_store.register_worker(worker.id, "test", 0)
    big = CampaignRunner(big_store, provider, throttle, config, 1, worker, share=share)
    small = CampaignRunner(small_store, provider, throttle, config, 2, worker, share=share)
    try:
        big_task = asyncio.create_task(big.run())
        await asyncio.sleep(0.5)

        def sent(store: MemoryStore) -> int:
            return sum(1 for job in store.jobs.values() if job.state == JobState.SUBMITTED)

        before = sent(big_store) + sum(1 for j in big_store.jobs.values() if j.state == JobState.SENDING)
        began = time.monotonic()
        report = await asyncio.wait_for(small.run(), 20)
        took = time.monotonic() - began
        during = sent(big_store) - before
        big.stop()
        await asyncio.wait_for(big_task, 20)
    finally:
        await worker.stop()
    assert report.state == "completed"
    # Half of 100 msg/s: 60 messages in about 1.2 s. The big one sent no more than its half meanwhile
    # (plus the slots reserved before the small one's first turn: a quarter second's worth).
    assert during <= 60 + 25 + 10, f"big sent {during} while small sent 60 in {took:.2f} s"
    assert took < 60 / 50 * 2 + 1.0


def test_a_lane_claims_for_its_part_of_the_rate() -> None:
    throttle = Granting()
    share = FairShare(throttle, "priority")  # type: ignore[arg-type]
    low, high = share.lane(1, 10), share.lane(2, 30)
    assert share.fraction(low) == 0.25 and share.fraction(high) == 0.75
    share.policy = "round_robin"
    assert share.fraction(low) == share.fraction(high) == 0.5
    high.close()
    assert share.fraction(low) == 1.0
