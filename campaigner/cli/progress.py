"""Progress of a running campaign: a rich bar on a terminal, one plain line every few seconds elsewhere.

It reads only the job table's counts, so what it shows is what is recorded, not what a sender
believes: a killed run shows the same numbers the next run starts from. The rate is recent (jobs
done over the last RATE_WINDOW seconds), not the average since the start, so the one ETA it shows
follows a slowdown (a 429, quiet hours) instead of promising the start's pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from campaigner.model.states import SENT_STATES, JobState

# Job states that count as "done" for the bar; `sending` and `pending` are still to do.
FAILED_STATES = frozenset({JobState.REJECTED})
DONE_STATES = SENT_STATES | FAILED_STATES | {
    JobState.SKIPPED, JobState.CANCELLED, JobState.UNKNOWN, JobState.EXPIRED
}
# Seconds of recent snapshots the rate is measured over.
RATE_WINDOW = 30.0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Counts at one moment, with the figures derived from them."""

    counts: Mapping[str, int]
    total: int
    at: float
    cost: Decimal = Decimal(0)  # of the jobs sent, from the counters: each job's own cost, not an average

    @property
    def sent(self) -> int:
        return sum(self.counts.get(state, 0) for state in SENT_STATES)

    @property
    def failed(self) -> int:
        return sum(self.counts.get(state, 0) for state in FAILED_STATES)

    @property
    def done(self) -> int:
        return sum(self.counts.get(state, 0) for state in DONE_STATES)


# Jobs and cost per state (campaigner.store.store.Store.job_totals); the totals have .jobs and .cost.
TotalsReader = Callable[[], Awaitable[Mapping[str, Any]]]


class ProgressReporter:
    """Polls `read_totals` and shows progress until `stop()`."""

    def __init__(
        self,
        read_totals: TotalsReader,
        total: int,
        currency: str,
        console: Console | None = None,
        plain_every: float = 5.0,
    ) -> None:
        self._read = read_totals
        self._total = total
        self._currency = currency
        self._console = console or Console(stderr=True, markup=False)
        self._plain_every = plain_every
        self._stop = asyncio.Event()
        self._recent: deque[Snapshot] = deque()

    def stop(self) -> None:
        """End the display after its next refresh."""
        self._stop.set()

    async def run(self) -> None:
        """Show progress until stopped; a final refresh is always shown."""
        if self._console.is_terminal and sys.stderr.isatty():
            await self._run_bar()
        else:
            await self._run_plain()

    async def _snapshot(self) -> Snapshot:
        totals = await self._read()
        counts = {state: int(t.jobs) for state, t in totals.items()}
        cost = sum((t.cost for state, t in totals.items() if state in SENT_STATES), Decimal(0))
        snapshot = Snapshot(counts, self._total, time.monotonic(), cost)
        self.remember(snapshot)
        return snapshot

    def remember(self, snapshot: Snapshot) -> None:
        """Keep `snapshot` for the rate, and forget those older than the window needs."""
        self._recent.append(snapshot)
        while len(self._recent) > 2 and snapshot.at - self._recent[1].at >= RATE_WINDOW:
            self._recent.popleft()

    def rate(self, now: Snapshot) -> float:
        """Jobs done a second over the last RATE_WINDOW seconds (0 until half a second has passed)."""
        oldest = self._recent[0] if self._recent else now
        elapsed = now.at - oldest.at
        return (now.done - oldest.done) / elapsed if elapsed >= 0.5 else 0.0

    def describe(self, snapshot: Snapshot, *, count: bool = True) -> str:
        """One line: done (unless the bar shows it), sent, failed, recent rate, ETA, cost so far."""
        rate = self.rate(snapshot)
        left = max(0, snapshot.total - snapshot.done)
        eta = _duration(left / rate) if rate > 0 and left else "-"
        done = f"{snapshot.done:,}/{snapshot.total:,} done  " if count else ""
        return (
            f"{done}sent {snapshot.sent:,}  failed {snapshot.failed:,}  {rate:,.1f} msg/s"
            f"  ETA {eta}  cost {snapshot.cost:,.2f} {self._currency}"
        )

    async def _run_bar(self) -> None:
        columns = (
            TextColumn("[bold]sending"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,}"),
            TextColumn("{task.fields[line]}"),  # the one ETA, from the recent rate
        )
        with Progress(*columns, console=self._console, transient=False) as bar:
            task = bar.add_task("send", total=self._total, line="")
            while True:
                snapshot = await self._snapshot()
                bar.update(task, completed=snapshot.done, line=self.describe(snapshot, count=False))
                if self._stop.is_set():
                    return
                await self._wait(0.5)

    async def _run_plain(self) -> None:
        while True:
            snapshot = await self._snapshot()
            self._console.print(self.describe(snapshot), highlight=False)
            if self._stop.is_set():
                return
            await self._wait(self._plain_every)

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{round(seconds / 60)}min"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}"
