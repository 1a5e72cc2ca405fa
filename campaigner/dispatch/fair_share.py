"""The campaigns of one account in one process take the account's rate in turn, not first come.

Every runner's senders ask the account's one throttle for a start time. Asked first come, first
served, the rate goes to whoever asks most: a campaign with more senders, more processes carrying it,
or requests the throttle charges less. `FairShare` stands in front of the throttle and decides
whose sender may ask next ([dispatcher] fairness):

* `round_robin`: every campaign with a request waiting gets an equal share of the account's rate
  (of the throttle's time, see `Throttle.slot_seconds`); one with nothing waiting takes nothing, so
  its share goes to the others at once;
* `priority`: the same, with each campaign's share in proportion to its priority (`--priority`,
  1 to 100, default 10): 20 against 10 takes two thirds. Weighted rather than strict, so that a low
  priority campaign slows down but is never stopped for as long as a higher one has work.

It is start-time fair queueing (stride scheduling): each campaign keeps a pass, the throttle time it
has been given divided by its weight; the waiting campaign with the lowest pass asks next. A campaign
that starts (or had nothing waiting) joins at the lowest pass of those waiting, never below: idle
time is no credit. At most `depth` senders hold or wait for a reserved slot at once (about a quarter
second of the account's rate, as a SharedThrottle slice), so a newcomer waits that long at most for
its first turn, and the throttle can still reserve several slots in one round trip.

Within one process the shares hold to within `depth` requests. Across processes on one account they
do not: the shared schedule (`rate_schedule`) hands each process its slots in turn, so processes
with work split the rate about evenly, and each shares its part among its own campaigns this way.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from typing import Literal

from campaigner.dispatch.throttle import Throttle

Fairness = Literal["round_robin", "priority"]

# A campaign's priority when none is given (migration 0022's default); the range allowed.
DEFAULT_PRIORITY = 10
MIN_PRIORITY, MAX_PRIORITY = 1, 100
# Senders that may hold or wait for a reserved slot at once cover this much of the account's rate.
LOOKAHEAD_SECONDS = 0.25
MIN_DEPTH, MAX_DEPTH = 2, 64


class Lane:
    """One campaign's turn at the throttle. `acquire` as `Throttle.acquire`; `close` when done."""

    def __init__(self, share: FairShare, key: object, priority: int) -> None:
        self._share = share
        self.key = key
        self.priority = priority
        self.pass_ = 0.0
        self.waiting: deque[asyncio.Future[None]] = deque()
        self.granted = 0.0  # throttle seconds this lane was admitted for (tests, metrics)

    @property
    def weight(self) -> float:
        return float(self.priority) if self._share.policy == "priority" else 1.0

    def set_priority(self, priority: int) -> None:
        """The campaign's priority changed (read again by its watcher)."""
        self.priority = priority

    async def acquire(self, units: int = 1) -> float:
        """Wait for this campaign's turn, then for the throttle; returns the request's start time."""
        await self._share.turn(self, units)
        try:
            return await self._share.throttle.acquire(units)
        finally:
            self._share.done()

    def close(self) -> None:
        """The campaign's runner ended: it takes no more turns."""
        self._share.close(self)


class FairShare:
    """One account's throttle shared among the campaigns of one process by `policy`."""

    def __init__(
        self, throttle: Throttle, policy: Fairness = "round_robin", depth: int | None = None
    ) -> None:
        self.throttle = throttle
        self.policy: Fairness = policy
        self._depth = depth
        self._lanes: dict[object, Lane] = {}
        self._admitted = 0  # senders holding or reserving a slot
        self._units: dict[asyncio.Future[None], int] = {}

    def lane(self, key: object, priority: int = DEFAULT_PRIORITY) -> Lane:
        """The lane of a campaign (`key`: its id), opened on first use."""
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = Lane(self, key, priority)
        else:
            lane.priority = priority
        return lane

    def depth(self) -> int:
        """How many senders may hold or wait for a reserved slot at once."""
        if self._depth is not None:
            return self._depth
        per_slot = self.throttle.slot_seconds(1)
        return max(MIN_DEPTH, min(MAX_DEPTH, math.ceil(LOOKAHEAD_SECONDS / per_slot)))

    async def turn(self, lane: Lane, units: int) -> None:
        """Return once `lane` may ask the throttle for a slot of `units`."""
        if not lane.waiting and self._admitted < self.depth() and len(self._lanes) == 1:
            # Alone and with room: its turn now, without a future (a runner alone, at 2,000 a second).
            self._grant(lane, units)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not lane.waiting:
            # Joining (or back from idle): at the lowest pass of those waiting, never below its own.
            lane.pass_ = max(lane.pass_, self._floor())
        lane.waiting.append(waiter)
        self._units[waiter] = units
        self._admit()
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.done()  # admitted, then cancelled before it could ask: its place is free
            else:
                waiter.cancel()
                if waiter in lane.waiting:
                    lane.waiting.remove(waiter)
            self._units.pop(waiter, None)
            raise
        self._units.pop(waiter, None)

    def done(self) -> None:
        """An admitted sender has its slot (or gave up): let the next one ask."""
        self._admitted -= 1
        self._admit()

    def close(self, lane: Lane) -> None:
        """Forget a lane (its senders have all returned)."""
        if self._lanes.get(lane.key) is lane and not lane.waiting:
            del self._lanes[lane.key]

    def fraction(self, lane: Lane) -> float:
        """The part of the account's rate `lane` gets while every open lane has work (its weight
        over theirs): a runner claims for that rate, so that its claims do not outlast their leases."""
        total = sum(other.weight for other in self._lanes.values())
        return 1.0 if total <= 0 or lane.key not in self._lanes else lane.weight / total

    def shares(self) -> dict[object, float]:
        """Throttle seconds each lane was admitted for since it opened (tests, diagnostics)."""
        return {key: lane.granted for key, lane in self._lanes.items()}

    def _floor(self) -> float:
        passes = [lane.pass_ for lane in self._lanes.values() if lane.waiting]
        return min(passes) if passes else max((lane.pass_ for lane in self._lanes.values()), default=0.0)

    def _admit(self) -> None:
        while self._admitted < self.depth():
            ready = [lane for lane in self._lanes.values() if lane.waiting]
            if not ready:
                return
            lane = min(ready, key=lambda candidate: candidate.pass_)
            waiter = lane.waiting.popleft()
            if waiter.done():  # cancelled while it waited
                continue
            self._grant(lane, self._units.get(waiter, 1))
            waiter.set_result(None)

    def _grant(self, lane: Lane, units: int) -> None:
        cost = self.throttle.slot_seconds(units)
        lane.pass_ += cost / lane.weight
        lane.granted += cost
        self._admitted += 1
