"""Results are written back in small batches: one statement for many jobs, never one per job.

Losing the buffer in a crash only leaves its jobs in `sending`, which reconciliation settles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from campaigner.outcomes import JobResult

log = logging.getLogger(__name__)

# Write as soon as this many results wait, whatever the interval.
FLUSH_AT = 200


class ResultStore(Protocol):
    """What the recorder needs of the store."""

    # JobResult is what is passed; Any because the store types it by shape (a Protocol).
    async def record_results(self, worker_id: str, results: Sequence[Any]) -> int: ...


class ResultRecorder:
    """Buffers JobResults and writes them every `interval` seconds or every FLUSH_AT results."""

    def __init__(self, store: ResultStore, worker_id: str, interval: float) -> None:
        self._store = store
        self._worker_id = worker_id
        self._interval = interval
        self._buffer: list[JobResult] = []
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
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
        await self.flush()

    async def add(self, result: JobResult) -> None:
        """Buffer one result; write the buffer when it is full."""
        self._buffer.append(result)
        if len(self._buffer) >= FLUSH_AT:
            await self.flush()

    async def flush(self) -> None:
        """Write every buffered result now."""
        async with self._lock:
            if not self._buffer:
                return
            batch, self._buffer = self._buffer, []
            try:
                changed = await self._store.record_results(self._worker_id, batch)
            except BaseException:
                self._buffer[:0] = batch  # keep them for the next try
                raise
            self.written += changed
            if changed != len(batch):
                # A guarded update skipped some: their lease was taken over. Reconciliation owns them.
                log.warning("recorded %d of %d results; the rest had left our lease", changed, len(batch))

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception as exc:  # keep the buffer's jobs for the next try or reconciliation
                log.warning("writing results failed: %s", exc)
