"""Strict rolling-window limits, as a provider counting "N in any W seconds" enforces them.

A `RollingWindow` keeps a deque of (time, amount) for what it let through in the last `window`
seconds and a running total, so a check costs O(expired entries), amortised O(1). A request is let
through only if the window ending now, including it, holds at most `limit`; otherwise the caller
gets the seconds until enough old entries expire (the `Retry-After`). Rejected amounts are not
added to the window (a refused request does not use up the limit), but they are counted, and a
second window of every attempt records the busiest window the client asked for: a client that
respects the limit never gets a 429, and its `max_attempted` stays at or below the limit.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any


class _Log:
    """A deque of (time, amount) over the last `window` seconds, with its total and highest total."""

    __slots__ = ("entries", "max_total", "total", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self.entries: deque[tuple[float, int]] = deque()
        self.total = 0
        self.max_total = 0

    def expire(self, now: float) -> None:
        # An entry at t counts while now - t < window: windows are half-open, (now - window, now].
        edge = now - self.window
        entries = self.entries
        while entries and entries[0][0] <= edge:
            self.total -= entries.popleft()[1]

    def add(self, now: float, amount: int) -> None:
        entries = self.entries
        if entries and entries[-1][0] == now:
            entries[-1] = (now, entries[-1][1] + amount)
        else:
            entries.append((now, amount))
        self.total += amount
        if self.total > self.max_total:
            self.max_total = self.total


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one `RollingWindow.acquire`: allowed, or refused with the wait in seconds."""

    allowed: bool
    remaining: int
    retry_after: float = 0.0


class RollingWindow:
    """At most `limit` units in any `window` seconds; `enforce=False` only counts."""

    __slots__ = ("_accepted", "_attempted", "enforce", "limit", "rejected", "violations", "window")

    def __init__(self, limit: int, window: float, *, enforce: bool = True) -> None:
        self.limit = limit
        self.window = window
        self.enforce = enforce
        self._accepted = _Log(window)
        self._attempted = _Log(window)
        self.violations = 0  # attempts refused (or, unenforced, let through) above the limit
        self.rejected = 0  # units refused

    def reconfigure(self, limit: int, window: float, enforce: bool) -> None:
        """Take new settings; what was already let through stays in the window."""
        self.limit = limit
        self.enforce = enforce
        if window != self.window:
            self.window = window
            self._accepted.window = window
            self._attempted.window = window

    def acquire(self, now: float, amount: int = 1) -> Decision:
        """Let `amount` units through at `now` if the window allows it, else say how long to wait."""
        accepted = self._accepted
        accepted.expire(now)
        self._attempted.expire(now)
        self._attempted.add(now, amount)
        if accepted.total + amount > self.limit:
            self.violations += 1
            if self.enforce:
                self.rejected += amount
                return Decision(False, max(0, self.limit - accepted.total), self._wait(now, amount))
        accepted.add(now, amount)
        return Decision(True, max(0, self.limit - accepted.total))

    def release(self, now: float, amount: int = 1) -> None:
        """Take back the last `amount` let through at `now` (the request was refused later, e.g. 429 on
        another limit). Only valid right after `acquire`, before anything else used this window."""
        accepted = self._accepted
        if accepted.entries and accepted.entries[-1][0] == now:
            t, n = accepted.entries[-1]
            if n <= amount:
                accepted.entries.pop()
            else:
                accepted.entries[-1] = (t, n - amount)
            accepted.total -= min(n, amount)

    def _wait(self, now: float, amount: int) -> float:
        # Walk from the oldest entry until enough has expired for `amount` to fit.
        accepted = self._accepted
        excess = accepted.total + amount - self.limit
        if amount > self.limit:
            return self.window
        freed = 0
        for t, n in accepted.entries:
            freed += n
            if freed >= excess:
                return max(0.0, t + self.window - now)
        return self.window

    def remaining(self, now: float) -> int:
        """Units that would be let through right now."""
        self._accepted.expire(now)
        return max(0, self.limit - self._accepted.total)

    @property
    def max_in_window(self) -> int:
        """The most units let through in any rolling window so far."""
        return self._accepted.max_total

    @property
    def max_attempted(self) -> int:
        """The most units asked for (let through or refused) in any rolling window so far."""
        return self._attempted.max_total

    def stats(self) -> dict[str, Any]:
        """The window's figures for `GET /_sandbox/stats`."""
        return {
            "limit": self.limit,
            "window": self.window,
            "enforced": self.enforce,
            "max_in_window": self.max_in_window,
            "max_attempted_in_window": self.max_attempted,
            "violations": self.violations,
            "rejected": self.rejected,
            "exceeded": self.max_in_window > self.limit or self.violations > 0,
        }


def merge_stats(windows: list[RollingWindow], limit: int, window: float, enforce: bool) -> dict[str, Any]:
    """One stats entry for a family of windows (the per-key request windows): the worst of each."""
    return {
        "limit": limit,
        "window": window,
        "enforced": enforce,
        "max_in_window": max((w.max_in_window for w in windows), default=0),
        "max_attempted_in_window": max((w.max_attempted for w in windows), default=0),
        "violations": sum(w.violations for w in windows),
        "rejected": sum(w.rejected for w in windows),
        "exceeded": any(w.max_in_window > w.limit or w.violations > 0 for w in windows),
    }
