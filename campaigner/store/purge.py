"""Retention: the jobs of long-ended campaigns deleted, their campaigns and totals kept.

A campaign is marked purged before any of its jobs go (sql/migrations/0017_purge.sql), so the
counters stay as they were and the campaign can never run again; then its jobs go in batches,
each its own short transaction, so neither locks nor the counter trigger's transition table grow
with the campaign. An interrupted purge is finished by the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from campaigner.store.database import Database


@dataclass(frozen=True, slots=True)
class PurgeCandidate:
    """An ended campaign whose jobs a purge would delete."""

    id: int
    name: str
    state: str
    finished_at: datetime | None
    jobs: int


class PurgeStore:
    db: Database

    async def purgeable_campaigns(self, finished_before: datetime) -> list[PurgeCandidate]:
        """Campaigns that ended before `finished_before` and still have their jobs, oldest first."""
        return [_candidate(r) for r in await self.db.all("purgeable-campaigns", finished_before)]

    async def unfinished_purges(self) -> list[PurgeCandidate]:
        """Campaigns a purge marked but did not finish (interrupted)."""
        return [_candidate(r) for r in await self.db.all("unfinished-purges")]

    async def mark_purged(self, campaign_id: int) -> bool:
        """Mark an ended campaign purged; False when it is no longer ended (a retry restarted it)."""
        return await self.db.one("mark-campaign-purged", campaign_id) is not None

    async def purge_jobs(self, campaign_id: int, batch: int) -> int:
        """Delete up to `batch` jobs of a purged campaign; returns how many went (0: none left)."""
        return int(await self.db.value("purge-campaign-jobs", campaign_id, batch))

    async def finish_purge(self, campaign_id: int) -> None:
        await self.db.execute("finish-purge", campaign_id)


def _candidate(row: asyncpg.Record) -> PurgeCandidate:
    return PurgeCandidate(int(row["id"]), row["name"], row["state"], row["finished_at"], int(row["jobs"]))
