"""The job half of the store: claims, results, reconciliation, suppression of jobs.

Every method is one named statement from `sql/queries/jobs.sql`. The hot ones (claim-jobs,
record-results) take arrays instead of one row per round trip, and each is scoped to one campaign
or to job ids a worker holds, never to a join of jobs across campaigns.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from campaigner.model.jobs import ClaimedJob, FrequencyCap, Job, JobResult, Settlement
from campaigner.model.states import JobState
from campaigner.store.database import Database
from campaigner.store.rows import from_record


def _rows_changed(status: str) -> int:
    """The row count of a status tag such as 'UPDATE 12'."""
    return int(status.rsplit(" ", 1)[-1]) if status and status[-1].isdigit() else 0


# Batches one claim_jobs call may go through when every job of them was skipped (suppressed).
CLAIM_PASSES = 10
# A claim floor is trusted at least this long; then the next claim scans jobs_claimable from the
# start again. A scan from the start walks the index entries of every job claimed since the last
# vacuum (512 ms at 5.5M drained with autovacuum off), so the next one waits RESCAN_COST_FACTOR times
# as long as the last one took: its share of a claimer's time stays under 1/RESCAN_COST_FACTOR.
# Capped, so a job released behind the floor never waits longer than FLOOR_RESCAN_MAX_SECONDS
# (a claim that comes back short after the floor looks behind it at once anyway).
FLOOR_RESCAN_SECONDS = 5.0
FLOOR_RESCAN_MAX_SECONDS = 60.0
RESCAN_COST_FACTOR = 50.0


def rescan_delay(scan_seconds: float) -> float:
    """Seconds until the next scan from the start, after one that took `scan_seconds`."""
    return min(FLOOR_RESCAN_MAX_SECONDS, max(FLOOR_RESCAN_SECONDS, RESCAN_COST_FACTOR * scan_seconds))


@dataclass(slots=True)
class _Floor:
    """Where a worker's last claim on a campaign stopped, in jobs_claimable's (next_attempt_at, id)."""

    next_attempt_at: datetime
    job_id: int
    rescan_at: float


class JobStore:
    """Job-level operations; mixed into `campaigner.store.store.Store`."""

    db: Database

    def _claim_floors(self) -> dict[tuple[int, str], _Floor]:
        floors: dict[tuple[int, str], _Floor] | None = self.__dict__.get("_floors")
        if floors is None:
            floors = self.__dict__["_floors"] = {}
        return floors

    def _forget_floors(self, worker_id: str) -> None:
        """Jobs of this worker went back to pending, maybe behind its floors: next claims start over."""
        floors = self._claim_floors()
        for key in [key for key in floors if key[1] == worker_id]:
            del floors[key]

    async def claim_jobs(
        self,
        campaign_id: int,
        worker_id: str,
        limit: int,
        lease_seconds: float,
        cap: FrequencyCap | None = None,
    ) -> list[ClaimedJob]:
        """Move up to `limit` due pending jobs of a running campaign to `sending` under our lease.

        Oldest due first; rows another worker is claiming are skipped, not waited for. Nothing is
        claimed unless the campaign is `running` at that instant.

        Jobs of suppressed numbers are never returned: the claim marks them `skipped` (claim-jobs).
        When a whole batch was skipped, the claim goes on to the next one, up to CLAIM_PASSES
        batches, so that a long run of suppressed jobs neither ends a dispatcher's claims nor keeps
        it from hearing a stop; an empty list then means "nothing to send yet", as when none is due.

        With a frequency `cap`, a number that already had `cap.limit` messages of the account in
        its window is not handed out: its job is skipped (error_code frequency_cap) or, with
        `cap.wait`, due again when the window allows. Nothing is handed out past the campaign's
        valid_until (`expire_pending_jobs` ends those jobs).
        """
        capping = (
            (None, 0.0, "skip")
            if cap is None
            else (cap.limit, float(cap.window_seconds), "wait" if cap.wait else "skip")
        )
        for _ in range(CLAIM_PASSES):
            rows = await self._claim_rows(campaign_id, worker_id, limit, float(lease_seconds), capping)
            jobs = [ClaimedJob(r[1], r[2], r[3], r[4], r[5], r[6], r[7], worker_id) for r in rows if r[0]]
            if jobs or not rows:
                jobs.sort(key=lambda job: job.id)
                return jobs
        return []

    async def _claim_rows(
        self, campaign_id: int, worker_id: str, limit: int, lease: float, capping: tuple[Any, ...]
    ) -> list[Any]:
        """One claim-jobs from this worker's floor (and from the start when that comes back short).

        Why a floor: the partial index jobs_claimable keeps the entries of claimed jobs until VACUUM
        removes them, so a scan from the start walks every job claimed since the last vacuum (with
        autovacuum off, 4,400 index pages a claim after 900k of 1M jobs: 3x slower). Each claim
        therefore starts after the last job this worker claimed on the campaign. Jobs that become due
        behind the floor (released or rolled-back claims of other workers) are reached when a claim
        after the floor comes back short, or by the scan from the start (every FLOOR_RESCAN_SECONDS,
        or longer when that scan is slow: rescan_delay).
        Jobs put back by this worker (retry results, release_jobs) drop its floors at once.
        """
        floors = self._claim_floors()
        key = (campaign_id, worker_id)
        now = time.monotonic()
        floor = floors.get(key)
        if floor is not None and now >= floor.rescan_at:
            floor = None
        if floor is None:
            rows = await self.db.all(
                "claim-jobs", campaign_id, worker_id, limit, lease, None, None, *capping
            )
            rescan_at = now + rescan_delay(time.monotonic() - now)
        else:
            rows = await self.db.all(
                "claim-jobs",
                campaign_id,
                worker_id,
                limit,
                lease,
                floor.next_attempt_at,
                floor.job_id,
                *capping,
            )
            rescan_at = floor.rescan_at
            if len(rows) < limit:  # nothing more after the floor: look behind it once
                scan_started = time.monotonic()
                rows += await self.db.all(
                    "claim-jobs", campaign_id, worker_id, limit - len(rows), lease, None, None, *capping
                )
                rescan_at = scan_started + rescan_delay(time.monotonic() - scan_started)
        if rows:
            last = max(rows, key=lambda r: (r[8], r[1]))
            floors[key] = _Floor(last[8], last[1], rescan_at)
        else:
            floors.pop(key, None)
        return rows

    async def record_results(self, worker_id: str, results: Sequence[JobResult]) -> int:
        """Write back send results in one statement; only jobs `worker_id` still holds change.

        submitted (with provider_id), pending (retry after `retry_in` s; attempts_delta -1 when the
        claim was not an attempt), rejected (with the error). Returns the number of jobs changed.
        """
        return len(await self.record_results_ids(worker_id, results))

    async def record_results_ids(self, worker_id: str, results: Sequence[JobResult]) -> set[int]:
        """record_results, returning the ids of the jobs that changed."""
        if not results:
            return set()
        if any(r.state == JobState.PENDING for r in results):
            self._forget_floors(worker_id)
        rows = await self.db.all(
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
            [r.reported_segments for r in results],
            [r.reported_cost for r in results],
        )
        return {row["id"] for row in rows}

    async def expire_pending_jobs(self, campaign_id: int) -> int:
        """Past the campaign's valid_until: every pending job → expired (final, never sent)."""
        return _rows_changed(await self.db.execute("expire-pending-jobs", campaign_id))

    async def capped_numbers(self, account: str, cap: FrequencyCap) -> set[str]:
        """Numbers of `account` at their cap right now (the preview's `capped`)."""
        rows = await self.db.all("capped-numbers", account, cap.limit, float(cap.window_seconds))
        return {row[0] for row in rows}

    async def release_jobs(self, worker_id: str, job_ids: Sequence[int]) -> int:
        """Give back jobs claimed but never sent: `sending` → `pending`, the attempt not counted."""
        if not job_ids:
            return 0
        self._forget_floors(worker_id)
        return _rows_changed(await self.db.execute("release-jobs", worker_id, list(job_ids)))

    async def expire_leases(self, campaign_id: int, worker_id: str) -> int:
        """End the leases of `worker_id`'s sending jobs of a campaign (its runner is gone), so that
        reconciliation looks them up now; returns how many."""
        return _rows_changed(await self.db.execute("expire-leases", campaign_id, worker_id))

    async def stale_sending_jobs(
        self, campaign_id: int, limit: int, worker_timeout: float
    ) -> list[ClaimedJob]:
        """`sending` jobs whose lease expired or whose worker is gone or silent for `worker_timeout` s."""
        rows = await self.db.all("stale-sending-jobs", campaign_id, limit, float(worker_timeout))
        return [from_record(ClaimedJob, r) for r in rows]

    async def mark_unsettled(
        self, campaign_id: int, after: float, worker_timeout: float, becomes: JobState
    ) -> int:
        """`sending` jobs of a campaign that nobody holds and no callback settled within `after`
        seconds of their claim → `becomes` (unknown, or pending to send again); how many."""
        rows = await self.db.all(
            "mark-unsettled", campaign_id, float(after), float(worker_timeout), str(becomes)
        )
        return len(rows)

    async def settle_reconciled(self, settlements: Sequence[Settlement]) -> int:
        """Settle looked-up jobs: found → `submitted` with the provider id, not found → `pending`.

        Each settlement carries job_id, attempts, found, provider_id and optionally sending_at, as
        seen when the job was found stale; a job someone settled or reclaimed since is left alone.
        """
        if not settlements:
            return 0
        sending_at = [s.sending_at for s in settlements]
        status = await self.db.execute(
            "settle-reconciled",
            [s.job_id for s in settlements],
            [int(s.attempts) for s in settlements],
            [bool(s.found) for s in settlements],
            [s.provider_id for s in settlements],
            sending_at,
        )
        return _rows_changed(status)

    async def retry_rejected(self, campaign_id: int, reasons: Sequence[str]) -> int:
        """Rejected jobs of a campaign whose error class is in `reasons` → `pending` now.

        Opt-outs and recipient errors are never put back, whatever `reasons` says.
        """
        wanted = [r for r in reasons if r not in ("opt_out", "recipient")]
        if not wanted:
            return 0
        return _rows_changed(await self.db.execute("retry-rejected", campaign_id, wanted))

    async def retry_unknown(self, campaign_id: int) -> int:
        """A campaign's `unknown` jobs → `pending` now (`retry --unknown`: the operator's choice)."""
        return _rows_changed(await self.db.execute("retry-unknown", campaign_id))

    async def get_job(self, job_id: int) -> Job | None:
        """One whole job row."""
        row = await self.db.one("get-job", job_id)
        return from_record(Job, row) if row else None

    async def set_job_state(self, job_id: int, state: str) -> int:
        """Force a job's state (tests, repair); the transition trigger still refuses illegal moves."""
        return _rows_changed(await self.db.execute("set-job-state", job_id, state))
