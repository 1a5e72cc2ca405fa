"""Request and message rate limits that hold over every rolling window, from the first second.

A token bucket (aiolimiter's `AsyncLimiter(60, 60)`) lets a full bucket through at once from idle
and then refills: a provider counting "60 in any 60 s" sees 119 in the first minute. So this module
does not use buckets. It reserves a start time for every request, under two rules at once:

* even pacing: request k+1 starts no sooner than `window / limit` (times its weight) after request
  k, so there is never a start-up burst above the per-second share;
* a sliding log: a start time is only handed out if the window ending at it, including the new
  request, holds at most `limit` units. This keeps the limit exact even after a pause, when even
  pacing alone would let a backlog through faster than the window allows.

Reservations are taken in call order (first come, first served; a large batch cannot starve behind
small ones), each caller then sleeps until its own slot. A 429 pauses every caller of the account
for `Retry-After`; the rate then settles below the provider's real limit (see `Throttle.on_throttled`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from campaigner.config import ProviderConfig

log = logging.getLogger(__name__)

# Slack added to every window: the provider stamps a request when it arrives, not when we sent it,
# and two requests sent a window apart can arrive a little closer than that.
DEFAULT_MARGIN = 0.02
# Share of a limit learned from the provider (a header or a 429) that we use.
HEADROOM = 0.97
# A caller woken this share of the margin after its slot (a busy event loop) takes a new slot rather
# than send late: its neighbours were planned a margin apart, and a late send eats into that margin.
LATE_SHARE = 0.5
# ... but never less than an event loop's ordinary wake-up delay: with no margin at all, every sleep
# would count as late and a shared schedule (which cannot move a slot) would reserve for ever.
LATE_FLOOR = 0.002
# How many new slots a late caller takes before it sends on a late one.
MAX_RETAKES = 3


class RollingWindow:
    """One limit, `limit` units in any `window` seconds, as a reservation schedule."""

    def __init__(self, limit: float, window: float, margin: float = DEFAULT_MARGIN) -> None:
        if limit <= 0 or window <= 0:
            raise ValueError("limit and window must be positive")
        self.window = window
        self.margin = margin
        self._log: deque[tuple[float, int]] = deque()  # (start time, units), oldest first
        self._held = 0  # units in the log, so that a window with room is known at once
        self._next_even = float("-inf")
        self.set_limit(limit)

    @property
    def limit(self) -> float:
        """Units allowed in any window."""
        return self._limit

    def set_limit(self, limit: float) -> None:
        """Change the limit; reservations already handed out stand."""
        self._limit = limit
        self._interval = self.window / limit

    def earliest(self, units: int, now: float) -> float:
        """The earliest start time, not before `now`, at which `units` more fit both rules."""
        start = max(now, self._next_even)
        capacity = int(self._limit)  # whole units only: 10.5 per second allows 10 in one window
        if units > capacity:
            raise ValueError(f"{units} units can never fit a limit of {capacity} per {self.window:g} s")
        # The window before `start` overflows when the log and `units` exceed the capacity; then it must
        # open after the oldest reservations whose units make up the excess. The log holds one window
        # (commit prunes it), so with room this is O(1) and when full it walks only the few that
        # must expire: a long window at a high limit (thousands of entries) costs no walk per request.
        excess = self._held + units - capacity
        if excess > 0:
            freed = 0
            for when, amount in self._log:
                freed += amount
                if freed >= excess:
                    start = max(start, when + self.window + self.margin)
                    break
        return start

    def commit(self, start: float, units: int) -> None:
        """Record a reservation made at `start` (as returned by `earliest`)."""
        self._log.append((start, units))
        self._held += units
        self._next_even = start + units * self._interval
        horizon = start - self.window - self.margin
        while self._log and self._log[0][0] < horizon:
            self._held -= self._log.popleft()[1]

    def can_move(self, start: float, now: float, units: int) -> bool:
        """Whether a reservation at `start` may move to `now` (later) with every window still holding.

        Moved later, it joins the windows ending in [start + window + margin, now + window + margin):
        none of those may end at a reservation already made, and the window ending at `now` must
        have room. Windows ending before `now` only lose it. O(entries in one window).
        """
        if units == 0:
            return True
        if self._log and self._log[-1][0] >= start + self.window + self.margin:
            return False
        edge = now - self.window - self.margin
        held = sum(amount for when, amount in self._log if edge < when <= now)
        if edge < start:
            held -= units  # our own entry, counted at its old place
        return held + units <= int(self._limit)

    def move(self, start: float, now: float, units: int) -> None:
        """Move a reservation (after `can_move` said yes), keeping the log in time order."""
        entries = list(self._log)
        for i in range(len(entries) - 1, -1, -1):
            if entries[i] == (start, units):
                del entries[i]
                break
        position = len(entries)
        while position and entries[position - 1][0] > now:
            position -= 1
        entries.insert(position, (now, units))
        self._log = deque(entries)
        self._next_even = max(self._next_even, now + units * self._interval)

    def count_in_window(self, now: float) -> int:
        """Units whose start lies in the window ending at `now` (for metrics and tests)."""
        return sum(units for when, units in self._log if now - self.window < when <= now)


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of one provider account."""

    requests_per_minute: float
    messages_per_second: float
    request_window: float = 60.0
    message_window: float = 1.0
    # Seconds added to every window for arrival jitter (provider.window_margin).
    margin: float = DEFAULT_MARGIN

    @classmethod
    def of(cls, provider: ProviderConfig) -> Limits:
        """The limits a provider account's config declares."""
        return cls(
            provider.requests_per_minute,
            provider.messages_per_second,
            provider.request_window,
            margin=provider.window_margin,
        )


class Throttle:
    """Paces one provider account's requests and messages; shared by all its senders in a process.

    `acquire(messages)` returns when one request carrying `messages` units may start. The rate also
    adapts: `on_throttled` (a 429) pauses everyone and lowers the request rate, `on_rate_limit`
    follows the provider's own `X-RateLimit-*` view, and `on_success` slowly climbs back.
    """

    def __init__(
        self,
        limits: Limits,
        clock: Callable[[], float] = time.monotonic,
        margin: float | None = None,
    ) -> None:
        self.configured = limits
        self._clock = clock
        per_window = limits.requests_per_minute * limits.request_window / 60.0
        margin = limits.margin if margin is None else margin
        self._requests = RollingWindow(per_window, limits.request_window, margin)
        self._messages = RollingWindow(limits.messages_per_second, limits.message_window, margin)
        self._paused_until = float("-inf")
        # Request rate at which the provider last said 429; the rate stays below it.
        self._throttled_at: float | None = None
        self._lowered_logged = False
        self._late = max(margin * LATE_SHARE, LATE_FLOOR)
        self.throttled_count = 0
        self.late_wakes = 0  # slots given up because we woke too late to use or move them (metrics)
        self.late_moved = 0  # slots moved to when we woke late (metrics)

    @property
    def requests_per_minute(self) -> float:
        """The request rate in force now (configured, or lowered after 429s)."""
        return self._requests.limit * 60.0 / self._requests.window

    @property
    def messages_per_second(self) -> float:
        """The message rate in force now."""
        return self._messages.limit / self._messages.window

    def max_messages_per_request(self) -> int:
        """The most messages one request may carry without breaking the per-window message limit."""
        return max(1, int(self._messages.limit))

    def slot_seconds(self, messages: int) -> float:
        """Seconds of the account's capacity one request of `messages` units takes: the larger of
        its share of the request limit and of the message limit (FairShare's measure of a share)."""
        request = self._requests.window / self._requests.limit
        return max(request, messages * self._messages.window / self._messages.limit)

    def expect_requests_of(self, units: int) -> None:
        """Requests will carry up to `units` messages (or segments). This log needs no such hint: it
        checks every window exactly; the shared schedule (SharedThrottle) does."""

    def reserve(self, messages: int) -> float:
        """Reserve the next start time for a request of `messages` units and return it."""
        now = self._clock()
        start = max(
            now,
            self._paused_until,
            self._requests.earliest(1, now),
            self._messages.earliest(messages, now),
        )
        # A second pass: the later start can only make the logs' constraints easier, never harder,
        # but even pacing of one log may push past the other's; take the max of both at `start`.
        start = max(start, self._requests.earliest(1, start), self._messages.earliest(messages, start))
        self._requests.commit(start, 1)
        self._messages.commit(start, messages)
        return start

    async def acquire(self, messages: int = 1) -> float:
        """Wait until a request carrying `messages` units may start; returns its start time."""
        retakes = 0
        while True:
            start = await self._reserve(messages)
            delay = start - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._paused_until > start:
                # A 429 moved everybody's start; our old slot is simply unused. Wait out the pause
                # before asking again, so that the new slot comes from after it.
                await asyncio.sleep(max(0.0, self._paused_until - self._clock()))
                continue
            now = self._clock()
            # Late: woken late, or (a shared schedule) the slot was already past when it arrived.
            # After a few tries the slot is taken anyway, so that a machine slower than the margin
            # still sends (at worst a little closer than planned) instead of reserving for ever.
            if now - start > self._late and retakes < MAX_RETAKES:
                retakes += 1
                # Woken late (a busy loop or machine): sending now could bring us nearer than a
                # window to a request planned one window after our slot. Move the slot to now if
                # every window allows it; otherwise take a new one (the old stays counted: safe).
                if not self._retime(start, now, messages):
                    self.late_wakes += 1
                    continue
                self.late_moved += 1
                return now
            return start

    def _retime(self, start: float, now: float, messages: int) -> bool:
        """Move our reservation from `start` to `now` if both logs allow it."""
        if type(self)._reserve is not Throttle._reserve:
            return False  # start times come from elsewhere (SharedThrottle: the database)
        if not (self._requests.can_move(start, now, 1) and self._messages.can_move(start, now, messages)):
            return False
        self._requests.move(start, now, 1)
        self._messages.move(start, now, messages)
        return True

    async def _reserve(self, messages: int) -> float:
        """Where start times come from: this process's schedule (SharedThrottle: the database's)."""
        return self.reserve(messages)

    def on_throttled(self, retry_after: float | None) -> None:
        """The provider answered 429: pause every caller and settle below the rate that hit it."""
        self.throttled_count += 1
        now = self._clock()
        wait = retry_after if retry_after and retry_after > 0 else self._requests.window / 10
        self._paused_until = max(self._paused_until, now + wait)
        current = self._requests.limit
        self._throttled_at = current if self._throttled_at is None else min(self._throttled_at, current)
        lowered = max(1.0, current * 0.85)
        self._requests.set_limit(lowered)
        if not self._lowered_logged:
            log.warning(
                "provider throttled at %.1f requests/min; lowering to %.1f and settling below it",
                current * 60 / self._requests.window,
                lowered * 60 / self._requests.window,
            )
            self._lowered_logged = True

    def on_rate_limit(self, limit: int | None, remaining: int | None) -> None:
        """Follow the provider's `X-RateLimit-Limit` / `X-RateLimit-Remaining` for requests."""
        # Settle a little below what the provider reports, so arrival jitter never tips it over.
        configured = self.configured.requests_per_minute * self._requests.window / 60.0
        if limit is not None and 0 < limit < configured and limit * HEADROOM < self._requests.limit:
            log.warning("provider reports a request limit of %d per window; keeping below it", limit)
            self._requests.set_limit(limit * HEADROOM)
            self._throttled_at = limit * HEADROOM
        if remaining is not None and remaining <= 0:
            # The provider's window is full by its own count: wait one even interval before the next.
            now = self._clock()
            self._paused_until = max(self._paused_until, now + self._requests.window / self._requests.limit)

    def on_success(self) -> None:
        """A request went through: climb back towards the configured rate, staying below a 429."""
        configured = self.configured.requests_per_minute * self._requests.window / 60.0
        current = self._requests.limit
        if current >= configured:
            return
        ceiling = configured if self._throttled_at is None else min(configured, self._throttled_at * HEADROOM)
        # Additive increase: about 1 % of the configured rate per window's worth of requests.
        step = configured * 0.01 / max(current, 1.0)
        if current < ceiling:
            self._requests.set_limit(min(ceiling, current + step))

    def in_window(self) -> tuple[int, int]:
        """Requests and messages whose start lies in the current windows (for metrics)."""
        now = self._clock()
        return self._requests.count_in_window(now), self._messages.count_in_window(now)
