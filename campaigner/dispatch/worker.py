"""A worker: one dispatching process, registered in the database and kept alive by heartbeats.

Other workers judge a worker dead when its heartbeat is older than `worker_timeout`, and then
reconcile the jobs it left in `sending`. So a worker also judges itself: when it has not managed to
write a heartbeat for half of that time it stops starting sends (`Worker.may_send`), which keeps a
worker that is alive but cut off from the database from racing the workers that reconcile for it.
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
        self._last_beat = float("-inf")
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Register and start heartbeating in the background."""
        await self._store.register_worker(self.id, socket.gethostname(), os.getpid())
        self._last_beat = time.monotonic()
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
        return time.monotonic() - self._last_beat < self._timeout / 2

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._store.heartbeat(self.id)
                self._last_beat = time.monotonic()
            except Exception as exc:
                log.warning("heartbeat of worker %s failed: %s", self.id, exc)
