"""A worker: one dispatching process, registered in the database and kept alive by heartbeats.

Other workers judge a worker dead when its heartbeat is older than `worker_timeout`, and then
reconcile the jobs it left in `sending`. So a worker also judges itself: when it has not managed to
write a heartbeat for half of that time it stops starting sends (`Worker.may_send`), which keeps a
worker that is alive but cut off from the database from racing the workers that reconcile for it.

Coming back is not enough to send again what it had claimed before. Once its heartbeat has lapsed,
others may have judged it dead, looked its jobs up, found them unsent and sent them themselves; a
lease that has time left says nothing about that. So a job is sent only if the heartbeat has been
unbroken since its claim (`Worker.claimed_before_lapse`): a lapse voids every earlier claim for
sending (benchmarks/partition.py: a host cut off for 15 s sent 80 such jobs again on its return).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid

from campaigner.dispatch.ports import WorkerStore

log = logging.getLogger(__name__)


class Worker:
    """This process's identity and heartbeat."""

    def __init__(self, store: WorkerStore, heartbeat_interval: float, worker_timeout: float) -> None:
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._store = store
        self._interval = heartbeat_interval
        self._timeout = worker_timeout
        # We may send until `_fresh_until`: half the timeout after the newest written heartbeat
        # began (its row says then or later). `_unbroken_since`: when the heartbeat last came back
        # from a lapse, or started (monotonic times).
        self._fresh_until = float("-inf")
        self._unbroken_since = float("-inf")
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Register and start heartbeating in the background."""
        began = time.monotonic()
        await self._store.register_worker(self.id, socket.gethostname(), os.getpid())
        self._fresh_until = began + self._timeout / 2
        self._unbroken_since = began
        self._task = asyncio.create_task(self._beat(), name=f"heartbeat {self.id}")

    async def stop(self) -> None:
        """Stop heartbeating and unregister (jobs left in `sending` are reconciled by whoever runs next)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            await self._store.unregister_worker(self.id)
        except Exception:  # the database may be what failed; others will find us stale
            log.warning("could not unregister worker %s", self.id)

    def may_send(self) -> bool:
        """True while our heartbeat is fresh enough that nobody reconciles our jobs."""
        return time.monotonic() < self._fresh_until

    def claimed_before_lapse(self, claimed_at: float) -> bool:
        """True when our heartbeat lapsed, and came back, after a claim made at `claimed_at`
        (monotonic, taken before the claim): its jobs may be others' now. Nothing is sent for them
        and nothing written (a release could undo a later claim of the same job by us); they are
        left to reconciliation, which looks them up."""
        return claimed_at < self._unbroken_since

    @property
    def unbroken_since(self) -> float:
        """Since when (monotonic) the heartbeat has not lapsed."""
        return self._unbroken_since

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            began = time.monotonic()
            try:
                await self._store.heartbeat(self.id)
            except Exception as exc:
                log.warning("heartbeat of worker %s failed: %s", self.id, exc)
                continue
            self._written(began, time.monotonic())

    def _written(self, began: float, ended: float) -> None:
        """A heartbeat begun at `began` was written by `ended`."""
        # Landed after our freshness ran out: until it did, the row may have looked dead to others,
        # who then reconcile our jobs, so every claim made before now is void. (If we have not been
        # fresh since the last lapse, nothing was claimed since: it is the same lapse.)
        if self._fresh_until <= ended and self._fresh_until > self._unbroken_since:
            log.warning(
                "worker %s: heartbeat back after %.1f s without one: others may have taken its "
                "jobs over, so none claimed before is sent (left to reconciliation)",
                self.id,
                ended - (self._fresh_until - self._timeout / 2),
            )
            self._unbroken_since = ended
        self._fresh_until = max(self._fresh_until, began + self._timeout / 2)
