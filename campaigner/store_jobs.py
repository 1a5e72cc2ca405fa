"""The job half of the store: claims, results, reconciliation, receipts, suppression of jobs.

Every method is one named statement from `sql/queries/jobs.sql`. The hot ones (claim-jobs,
record-results) take arrays instead of one row per round trip, and each is scoped to one campaign
or to job ids a worker holds, never to a join of jobs across campaigns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from campaigner.db import Database
from campaigner.store_models import ClaimedJob, Delivery, Job


def _rows_changed(status: str) -> int:
    """The row count of a status tag such as 'UPDATE 12'."""
    return int(status.rsplit(" ", 1)[-1]) if status and status[-1].isdigit() else 0


class ResultLike(Protocol):
    """A write-back for one job (campaigner.outcomes.JobResult has this shape)."""

    job_id: int
    state: str
    provider_id: str | None
    error_code: str | None
    error_class: str | None
    error_message: str | None
    retry_in: float
    attempts_delta: int


class JobStore:
    """Job-level operations; mixed into `campaigner.store.Store`."""

    db: Database

    async def claim_jobs(
        self, campaign_id: int, worker_id: str, limit: int, lease_seconds: float
    ) -> list[ClaimedJob]:
        """Move up to `limit` due pending jobs of a running campaign to `sending` under our lease.

        Oldest due first; rows another worker is claiming are skipped, not waited for. Nothing is
        claimed unless the campaign is `running` at that instant.
        """
        rows = await self.db.all("claim-jobs", campaign_id, worker_id, limit, float(lease_seconds))
        jobs = [ClaimedJob(r[0], r[1], r[2], r[3], r[4], r[5], r[6], worker_id) for r in rows]
        jobs.sort(key=lambda job: job.id)
        return jobs

    async def record_results(self, worker_id: str, results: Sequence[ResultLike]) -> int:
        """Write back send results in one statement; only jobs `worker_id` still holds change.

        submitted (with provider_id), pending (retry after `retry_in` s; attempts_delta -1 when the
        claim was not an attempt), rejected (with the error). Returns the number of jobs changed.
        """
        if not results:
            return 0
        status = await self.db.execute(
            "record-results",
            worker_id,
            [r.job_id for r in results],
            [str(r.state) for r in results],
            [r.provider_id for r in results],
            [r.error_code for r in results],
            [r.error_class for r in results],
            [r.error_message for r in results],
            [float(r.retry_in) for r in results],
            [int(r.attempts_delta) for r in results],
        )
        return _rows_changed(status)

    async def release_jobs(self, worker_id: str, job_ids: Sequence[int]) -> int:
        """Give back jobs claimed but never sent: `sending` → `pending`, the attempt not counted."""
        if not job_ids:
            return 0
        return _rows_changed(await self.db.execute("release-jobs", worker_id, list(job_ids)))

    async def stale_sending_jobs(
        self, campaign_id: int, limit: int, worker_timeout: float
    ) -> list[ClaimedJob]:
        """`sending` jobs whose lease expired or whose worker is gone or silent for `worker_timeout` s."""
        rows = await self.db.all("stale-sending-jobs", campaign_id, limit, float(worker_timeout))
        return [ClaimedJob.from_record(r) for r in rows]

    async def settle_reconciled(self, settlements: Sequence[Any]) -> int:
        """Settle looked-up jobs: found → `submitted` with the provider id, not found → `pending`.

        Each settlement carries job_id, attempts, found, provider_id and optionally sending_at, as
        seen when the job was found stale; a job someone settled or reclaimed since is left alone.
        """
        if not settlements:
            return 0
        sending_at: list[datetime | None] = [getattr(s, "sending_at", None) for s in settlements]
        status = await self.db.execute(
            "settle-reconciled",
            [s.job_id for s in settlements],
            [int(s.attempts) for s in settlements],
            [bool(s.found) for s in settlements],
            [s.provider_id for s in settlements],
            sending_at,
        )
        return _rows_changed(status)

    async def mark_delivery(
        self,
        provider_id: str,
        status: str,
        error_code: str | None = None,
        error_message: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Delivery | None:
        """A delivery receipt: `submitted` → `delivered` | `undelivered`.

        Idempotent and never backwards: None when no submitted job has that provider id (already
        final, unknown, or its submit not yet written).
        """
        if status not in ("delivered", "undelivered"):
            raise ValueError(f"mark_delivery: status must be delivered or undelivered, not {status!r}")
        row = await self.db.one("mark-delivery", provider_id, status, error_code, error_message, occurred_at)
        return Delivery(row["id"], row["campaign_id"]) if row else None

    async def skip_suppressed_jobs(self, e164: str) -> int:
        """Every pending job for `e164`, in any campaign → `skipped`; returns how many."""
        return _rows_changed(await self.db.execute("skip-suppressed-jobs", e164))

    async def retry_rejected(self, campaign_id: int, reasons: Sequence[str]) -> int:
        """Rejected jobs of a campaign whose error class is in `reasons` → `pending` now.

        Opt-outs and recipient errors are never put back, whatever `reasons` says.
        """
        wanted = [r for r in reasons if r not in ("opt_out", "recipient")]
        if not wanted:
            return 0
        return _rows_changed(await self.db.execute("retry-rejected", campaign_id, wanted))

    # -- early receipts and inbound opt-outs (sql/queries/receipts.sql) -----------------------------

    async def park_receipt(
        self, provider_id: str, status: str, error: str | None, occurred_at: datetime | None
    ) -> tuple[str | None, bool]:
        """Keep a final receipt that moved no job; (state of the job if already final, parked now)."""
        row = await self.db.one("park-receipt", provider_id, status, error, occurred_at)
        assert row is not None
        return row["final_state"], bool(row["parked"])

    async def provider_id_known(self, provider_id: str) -> bool:
        """Whether any job carries `provider_id`."""
        return bool(await self.db.value("known-provider-id", provider_id))

    async def apply_pending_receipts(self, max_age: float) -> tuple[int, int]:
        """Apply parked receipts whose job is now submitted; drop those older than `max_age` s.

        Returns (applied, expired).
        """
        row = await self.db.one("apply-pending-receipts", float(max_age))
        assert row is not None
        return int(row["applied"]), int(row["expired"])

    async def count_pending_receipts(self) -> int:
        """Receipts waiting for their job."""
        return int(await self.db.value("count-pending-receipts"))

    async def skip_recent_opt_outs(self, within: float) -> int:
        """Pending jobs of numbers that replied STOP in the last `within` seconds -> skipped."""
        return _rows_changed(await self.db.execute("skip-recent-opt-outs", float(within)))

    async def remove_stop_reply_suppression(self, e164: str) -> bool:
        """Lift `e164`'s suppression if a STOP reply put it there; True if it was lifted."""
        return _rows_changed(await self.db.execute("remove-stop-reply-suppression", e164)) > 0

    async def get_job(self, job_id: int) -> Job | None:
        """One whole job row."""
        row = await self.db.one("get-job", job_id)
        return Job.from_record(row) if row else None

    async def set_job_state(self, job_id: int, state: str) -> int:
        """Force a job's state (tests, repair); the transition trigger still refuses illegal moves."""
        return _rows_changed(await self.db.execute("set-job-state", job_id, state))
