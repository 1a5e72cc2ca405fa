"""Logging that a flood cannot turn into a flood of log lines.

    floods = FloodLog(log, interval=10.0)
    floods.event("rejected_signature", logging.WARNING, "status webhook from %s rejected: %s", ip, why)

The first event of a kind is logged at once; the others within `interval` seconds are only counted,
and one line at the end of the interval says how many there were (with the last one's details).
So a hostile client costs at most one line per kind per interval, and the count is never lost.
Kinds are our own fixed names, never text from a request, so the table stays small.

`quiet_loop_errors(loop, floods)` routes the event loop's own error reports (an `accept()` failing
with EMFILE, a callback raising) through the same limiter, by message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Window:
    started: float
    count: int = 0  # events counted but not logged since `started`
    last: tuple[int, str, tuple[Any, ...]] = (logging.INFO, "", ())
    flush: asyncio.TimerHandle | None = field(default=None, repr=False)


class FloodLog:
    """At most one log line per kind of event per `interval`, with the count of those it stands for."""

    def __init__(
        self, logger: logging.Logger, interval: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._log = logger
        self.interval = interval
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self.totals: dict[str, int] = {}  # every event ever, by kind (tests and benchmarks read it)

    def event(self, kind: str, level: int, msg: str, *args: Any) -> None:
        """Record one event of `kind`; log it now only if it is the first of its interval."""
        self.totals[kind] = self.totals.get(kind, 0) + 1
        now = self._clock()
        window = self._windows.get(kind)
        if window is None or now - window.started >= self.interval:
            if window is not None:
                self._report(kind, window)
            self._windows[kind] = _Window(started=now)
            self._log.log(level, msg, *args)
            return
        window.count += 1
        window.last = (level, msg, args)
        if window.flush is None:
            with contextlib.suppress(RuntimeError):  # no running loop: reported by the next event
                loop = asyncio.get_running_loop()
                window.flush = loop.call_later(
                    window.started + self.interval - now, self._flush, kind, window
                )

    def _flush(self, kind: str, window: _Window) -> None:
        window.flush = None
        if self._windows.get(kind) is window:
            del self._windows[kind]
            self._report(kind, window)

    def _report(self, kind: str, window: _Window) -> None:
        if window.flush is not None:
            window.flush.cancel()
            window.flush = None
        if window.count:
            level, msg, args = window.last
            self._log.log(level, msg + " (and %d more like it in %.0f s)", *args, window.count, self.interval)
            window.count = 0

    def close(self) -> None:
        """Report what is still counted (at shutdown) and cancel the pending reports."""
        for kind, window in list(self._windows.items()):
            self._report(kind, window)
        self._windows.clear()


@contextlib.contextmanager
def quiet_loop_errors(loop: asyncio.AbstractEventLoop, floods: FloodLog) -> Iterator[None]:
    """While inside: the loop's error reports go through `floods` (one line per message per
    interval, no traceback); the previous handler is restored on exit."""
    previous = loop.get_exception_handler()

    def handle(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message") or "event loop error")
        exc = context.get("exception")
        detail = f"{type(exc).__name__}: {exc}" if exc is not None else ""
        floods.event(f"loop:{message[:40]}", logging.ERROR, "%s %s", message, detail)

    loop.set_exception_handler(handle)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)
