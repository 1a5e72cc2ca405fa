"""The watching half of the store: what the dashboard, the HTTP API, `status` and `report` read.

One method per query of `sql/queries/observe.sql`. Every figure of a campaign comes from counters
that triggers keep (job_counts, and 0012's job_minutes, job_countries and job_latency) or from an
index range, never from counting a campaign's jobs, so a million-job campaign reads as fast as a
small one. Also the HTTP API's idempotency keys.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from campaigner.model.campaigns import StateTotal
from campaigner.model.jobs import Suppression, WorkerInfo
from campaigner.model.observe import (
    CampaignLive,
    CountryRow,
    JobRow,
    LatencyBucket,
    SampleMessage,
    ScheduleRow,
    TimelinePoint,
)
from campaigner.model.states import CampaignState
from campaigner.store.database import Database
from campaigner.store.rows import from_record

# Lower bounds (seconds) of job_latency's buckets: bucket i holds [LATENCY_BOUNDS[i-1],
# LATENCY_BOUNDS[i]); bucket 0 is below 0 and the last one is open-ended. The same list is in
# campaigner_latency_bucket (sql/migrations/0012_observe.sql); a test checks they agree.
LATENCY_BOUNDS: tuple[float, ...] = (
    0,
    1,
    2,
    3,
    5,
    7,
    10,
    15,
    20,
    30,
    45,
    60,
    90,
    120,
    180,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    14400,
    43200,
    86400,
)


class ObserveStore:
    """Reads for watching campaigns; mixed into `campaigner.store.store.Store`."""

    db: Database

    async def campaigns_live(
        self, campaign_id: int | None, *, worker_timeout: float, timeline_minutes: int = 0
    ) -> list[CampaignLive]:
        """The live facts of one campaign (or of all, with None), in one statement."""
        rows = await self.db.all("observe-campaigns", campaign_id, float(worker_timeout), timeline_minutes)
        return [_live(row) for row in rows]

    async def campaign_timeline(self, campaign_id: int) -> list[TimelinePoint]:
        """Jobs that arrived in each state, per minute, over the campaign's life."""
        return [from_record(TimelinePoint, r) for r in await self.db.all("campaign-timeline", campaign_id)]

    async def campaign_countries(self, campaign_id: int) -> list[CountryRow]:
        """Jobs past the queue and their cost, per country and state."""
        return [from_record(CountryRow, r) for r in await self.db.all("campaign-countries", campaign_id)]

    async def campaign_latency(self, campaign_id: int) -> list[LatencyBucket]:
        """Delivered jobs per latency bucket (see LATENCY_BOUNDS)."""
        return [from_record(LatencyBucket, r) for r in await self.db.all("campaign-latency", campaign_id)]

    async def campaign_sample(self, campaign_id: int) -> SampleMessage | None:
        """One rendered message of the campaign (None when it has no jobs)."""
        row = await self.db.one("campaign-sample", campaign_id)
        return None if row is None else from_record(SampleMessage, row)

    async def campaign_jobs(
        self, campaign_id: int, state: str | None, after: int, limit: int
    ) -> list[JobRow]:
        """Up to `limit` jobs of the campaign with ids above `after` (in `state`, if given), by id."""
        rows = await self.db.all("campaign-jobs-page", campaign_id, state, after, limit)
        return [from_record(JobRow, r) for r in rows]

    async def account_schedules(self, account: str) -> list[ScheduleRow]:
        """The account's shared rate schedules (none until its first send)."""
        return [from_record(ScheduleRow, r) for r in await self.db.all("account-schedules", account)]

    async def account_names(self) -> list[str]:
        """Every provider account a campaign belongs to."""
        return [r["provider_account"] for r in await self.db.all("account-names")]

    async def find_suppressions(self, prefix: str, limit: int) -> list[Suppression]:
        """Up to `limit` entries whose number starts with `prefix`, by number."""
        rows = await self.db.all("find-suppressions", prefix, limit)
        return [from_record(Suppression, r) for r in rows if r["e164"].startswith(prefix)]

    async def count_suppressions(self) -> int:
        """Entries on the suppression list."""
        return int(await self.db.value("count-suppressions"))

    # -- idempotency keys (HTTP API) --------------------------------------------------------------

    async def claim_idempotency_key(self, key: str, request_hash: str) -> bool:
        """Take `key` for a new request; False when it was taken before (see `idempotent_answer`)."""
        return await self.db.value("claim-idempotency-key", key, request_hash) is not None

    async def idempotent_answer(self, key: str) -> tuple[str, int | None, Any] | None:
        """(request hash, status, response) kept for `key`; status None while still in progress."""
        row = await self.db.one("get-idempotency-key", key)
        return None if row is None else (row["request_hash"], row["status"], row["response"])

    async def finish_idempotency_key(self, key: str, status: int, response: Any) -> None:
        """Keep the answer given to the request that took `key`."""
        await self.db.execute("finish-idempotency-key", key, status, response)

    async def forget_idempotency_keys(self, older_than: float) -> None:
        """Forget keys taken more than `older_than` seconds ago."""
        await self.db.execute("forget-idempotency-keys", float(older_than))

    async def release_idempotency_key(self, key: str) -> None:
        """The request that took `key` changed nothing: it may be tried again with the same key."""
        await self.db.execute("release-idempotency-key", key)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _live(row: asyncpg.Record) -> CampaignLive:
    totals = {state: StateTotal(int(jobs), _decimal(cost)) for state, (jobs, cost) in row["totals"].items()}
    workers = tuple(
        WorkerInfo(w["id"], w["hostname"], int(w["pid"]), _time(w["started_at"]), _time(w["heartbeat_at"]))
        for w in row["live_workers"]
    )
    timeline = row["timeline"]
    return CampaignLive(
        id=row["id"],
        name=row["name"],
        message=row["message"],
        provider_account=row["provider_account"],
        sender=row["sender"],
        region=row["region"],
        state=CampaignState(row["state"]),
        reason=row["reason"],
        send_at=row["send_at"],
        quiet_start=row["quiet_start"],
        quiet_end=row["quiet_end"],
        total_jobs=row["total_jobs"],
        estimated_cost=row["estimated_cost"],
        currency=row["currency"],
        preview=row["preview"] or {},
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
        now=row["now"],
        totals=totals,
        recent_jobs=int(row["recent_jobs"]),
        recent_since=row["recent_since"],
        next_due=row["next_due"],
        holding=tuple(sorted(row["holding"])),
        live_workers=workers,
        booked_until=row["booked_until"],
        priority=row["priority"],
        timeline=None
        if timeline is None
        else tuple(TimelinePoint(_time(m), state, int(n)) for m, state, n in timeline),
    )


def _decimal(value: object) -> Decimal:
    # jsonb numbers come back as float or int from json.loads; through str, its shortest digits.
    return Decimal(str(value))


__all__ = ["LATENCY_BOUNDS", "ObserveStore"]
