"""Results of every campaign a process carries written in shared statements (a GroupCommit).

Each campaign's ResultRecorder flushes on its own interval; with a hundred campaigns that is a
hundred statements of a few rows each per interval. Through a ResultBatcher the flushes that
coincide go as one `record-results` (by job id, guarded by our worker and `sending`, so jobs of
several campaigns mix safely), and each recorder hears how many of its own jobs changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from campaigner.group_commit import GroupCommit
from campaigner.model.jobs import JobResult

Flush = tuple[str, Sequence[JobResult]]


class ResultIdStore(Protocol):
    async def record_results_ids(self, worker_id: str, results: Sequence[JobResult]) -> set[int]: ...


def _same_worker(batch: list[Flush], flush: Flush) -> bool:
    return not batch or batch[0][0] == flush[0]


class ResultBatcher:
    """A ResultStore whose concurrent flushes share a statement."""

    def __init__(self, store: ResultIdStore) -> None:
        self._store = store
        self.commits: GroupCommit[Flush, int] = GroupCommit(self._write, _same_worker)

    async def record_results(self, worker_id: str, results: Sequence[JobResult]) -> int:
        if not results:
            return 0
        return await self.commits((worker_id, results))

    async def _write(self, flushes: list[Flush]) -> list[int]:
        changed = await self._store.record_results_ids(
            flushes[0][0], [result for _worker, results in flushes for result in results]
        )
        return [sum(result.job_id in changed for result in results) for _worker, results in flushes]
