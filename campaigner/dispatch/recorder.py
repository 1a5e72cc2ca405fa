"""Results are written back in small batches: one statement for many jobs, never one per job.

Losing the buffer in a crash only leaves its jobs in `sending`, which reconciliation settles. A full
buffer is written in the background while the senders go on (one write at a time); only a backlog
of several batches makes a sender wait, so a slow database slows sending instead of growing memory.

A result is written only while its job is surely still ours: one of a job claimed before our
heartbeat lapsed (`Worker.claimed_before_lapse`) is dropped, as if we had crashed before writing it.
The guard of `record-results` (our worker, still `sending`) cannot tell an old claim of a job from
a new one by the same worker, and after a lapse others may have reconciled the job and we may have
claimed it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from campaigner.dispatch.ports import ResultStore
from campaigner.model.jobs import JobResult

log = logging.getLogger(__name__)

# Write as soon as this many results wait, whatever the interval. Measured (benchmarks/dispatch.py,
# batches of 500 unthrottled): 200 rows a statement cost ~125 us a row and capped the run at ~6,000
# msg/s; 1,000 rows ~50 us a row. At low rates the interval writes first, so this only matters fast.
FLUSH_AT = 1000
# A sender adding results waits for the write once this many are buffered.
BACKLOG = 4 * FLUSH_AT


class ResultRecorder:
    """Buffers JobResults and writes them every `interval` seconds or every FLUSH_AT results."""

    def __init__(
        self,
        store: ResultStore,
        worker_id: str,
        interval: float,
        voided_before: Callable[[], float] | None = None,
    ) -> None:
        self._store = store
        self._worker_id = worker_id
        self._interval = interval
        # Results of jobs claimed before this (monotonic) time are not ours to write.
        self._voided_before = voided_before or (lambda: float("-inf"))
        self._buffer: list[JobResult] = []
        self._claimed: list[float] = []  # when each buffered result's job was claimed
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None  # a background write of a full buffer
        self.written = 0

    async def start(self) -> None:
        """Start the periodic flush."""
        self._task = asyncio.create_task(self._flush_periodically(), name="result recorder")

    async def stop(self) -> None:
        """Stop the periodic flush and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
        await self.flush()

    async def add(self, result: JobResult, claimed_at: float | None = None) -> None:
        """Buffer one result; write the buffer when it is full."""
        await self.add_many((result,), claimed_at)

    async def add_many(self, results: Sequence[JobResult], claimed_at: float | None = None) -> None:
        """Buffer results of jobs claimed at `claimed_at` (monotonic; None: never voided); a full
        buffer is written in the background, a backlog before returning."""
        self._buffer.extend(results)
        self._claimed.extend([float("inf") if claimed_at is None else claimed_at] * len(results))
        if len(self._buffer) >= BACKLOG:
            await self.flush()
        elif len(self._buffer) >= FLUSH_AT and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._flush_logged(), name="result writer")

    async def flush(self) -> None:
        """Write every buffered result now."""
        async with self._lock:
            self._drop_voided()
            if not self._buffer:
                return
            batch, self._buffer = self._buffer, []
            claimed, self._claimed = self._claimed, []
            try:
                changed = await self._store.record_results(self._worker_id, batch)
            except BaseException:
                self._buffer[:0] = batch  # keep them for the next try
                self._claimed[:0] = claimed
                raise
            self.written += changed
            if changed != len(batch):
                # A guarded update skipped some: their lease was taken over. Reconciliation owns them.
                log.warning("recorded %d of %d results; the rest had left our lease", changed, len(batch))

    def _drop_voided(self) -> None:
        cutoff = self._voided_before()
        if not self._claimed or min(self._claimed) >= cutoff:
            return
        keep = [i for i, at in enumerate(self._claimed) if at >= cutoff]
        dropped = len(self._buffer) - len(keep)
        self._buffer = [self._buffer[i] for i in keep]
        self._claimed = [self._claimed[i] for i in keep]
        log.warning(
            "%d results of jobs claimed before the heartbeat lapsed not written: others may hold "
            "those jobs now; whoever finds them still sending looks them up",
            dropped,
        )

    async def _flush_periodically(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # On the multiples of the interval of the loop's clock, not `interval` after this
            # recorder started: every campaign of a process then flushes at the same instants, and
            # their writes meet in one statement (the daemon's ResultBatcher). Out of step, a
            # hundred campaigns at a few messages a second wrote nearly every result on its own.
            await asyncio.sleep(self._interval - loop.time() % self._interval)
            await self._flush_logged()

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except Exception as exc:  # keep the buffer's jobs for the next try or reconciliation
            log.warning("writing results failed: %s", exc)
