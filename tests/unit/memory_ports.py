"""In-memory implementations of the engine's ports (`campaigner.dispatch.ports`), for unit tests.

`MemoryStore` keeps jobs and one campaign in dicts and follows the store's rules where the engine
relies on them: a claim takes due pending jobs of a running campaign, counts an attempt and sets a
lease; a result changes only a job its worker still holds in `sending`; suppressed numbers are
skipped at claim time; a campaign completes when nothing is pending or sending. It stands beside
the integration tests against PostgreSQL (tests/integration/test_dispatcher.py), not instead.

`MemoryProvider` answers sends from a script of outcomes per number and remembers what it stored,
so a lookup tells the truth and a test can count what reached the "provider".
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from campaigner.model.campaigns import Campaign, CampaignWatchState
from campaigner.model.jobs import ClaimedJob, FrequencyCap, JobResult, Settlement
from campaigner.model.provider import LookupResult, OutboundMessage, Outcome, RateLimitInfo, SendResult
from campaigner.model.states import CampaignState, JobState


@dataclass
class MemoryJob:
    id: int
    e164: str
    body: str
    segments: int = 1
    state: JobState = JobState.PENDING
    attempts: int = 0
    worker_id: str | None = None
    lease_until: datetime | None = None
    sending_at: datetime | None = None
    next_attempt_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    provider_id: str | None = None
    error_code: str | None = None


def _campaign(campaign_id: int, state: CampaignState) -> Campaign:
    now = datetime.now(UTC)
    return Campaign(
        id=campaign_id, name="memory", message="Hi", provider_account="default", sender="", region="",
        smart_encoding=False, state=state, send_at=None, quiet_start=None, quiet_end=None,
        total_jobs=0, estimated_cost=Decimal(0), currency="EUR", preview={}, reason=None,
        created_at=now, started_at=now, finished_at=None, updated_at=now,
    )  # fmt: skip


class MemoryStore:
    """One running campaign and its jobs, answering the dispatcher's and the worker's ports."""

    def __init__(self, numbers: Sequence[str], body: str = "Hi", campaign_id: int = 1) -> None:
        self.campaign = _campaign(campaign_id, CampaignState.RUNNING)
        self.jobs = {i: MemoryJob(i, e164, body) for i, e164 in enumerate(numbers, start=1)}
        self.suppressed: dict[str, datetime] = {}
        self.workers: set[str] = set()
        self.watch_queries = 0  # statements the campaigns' watcher ran (watch_campaigns and suppressions)

    # -- what tests look at ---------------------------------------------------------------------

    def states(self) -> Counter[str]:
        return Counter(str(job.state) for job in self.jobs.values())

    # -- DispatchStore --------------------------------------------------------------------------

    async def claim_jobs(
        self,
        campaign_id: int,
        worker_id: str,
        limit: int,
        lease_seconds: float,
        cap: FrequencyCap | None = None,
    ) -> list[ClaimedJob]:
        if self.campaign.state != CampaignState.RUNNING:
            return []
        now = datetime.now(UTC)
        claimed = []
        for job in sorted(self.jobs.values(), key=lambda j: (j.next_attempt_at, j.id)):
            if len(claimed) == limit:
                break
            if job.state != JobState.PENDING or job.next_attempt_at > now:
                continue
            if job.e164 in self.suppressed:
                job.state = JobState.SKIPPED
                continue
            job.state, job.worker_id, job.attempts = JobState.SENDING, worker_id, job.attempts + 1
            job.sending_at, job.lease_until = now, now + timedelta(seconds=lease_seconds)
            claimed.append(
                ClaimedJob(job.id, job.e164, job.body, job.segments, job.attempts, "NL", now, worker_id)
            )
        return claimed

    async def record_results(self, worker_id: str, results: Sequence[JobResult]) -> int:
        changed = 0
        for result in results:
            job = self.jobs[result.job_id]
            if job.state != JobState.SENDING or job.worker_id != worker_id:
                continue  # left our lease: someone else settles it
            job.state, job.worker_id, job.lease_until = result.state, None, None
            job.provider_id, job.error_code = result.provider_id, result.error_code
            job.attempts += result.attempts_delta
            job.next_attempt_at = datetime.now(UTC) + timedelta(seconds=result.retry_in)
            changed += 1
        return changed

    async def release_jobs(self, worker_id: str, job_ids: Sequence[int]) -> int:
        return await self.record_results(
            worker_id, [JobResult(i, JobState.PENDING, attempts_delta=-1) for i in job_ids]
        )

    async def expire_leases(self, campaign_id: int, worker_id: str) -> int:
        expired = [j for j in self.jobs.values() if j.state == JobState.SENDING and j.worker_id == worker_id]
        for job in expired:
            job.lease_until = datetime.now(UTC) - timedelta(seconds=1)
        return len(expired)

    async def stale_sending_jobs(
        self, campaign_id: int, limit: int, worker_timeout: float
    ) -> list[ClaimedJob]:
        now = datetime.now(UTC)
        stale = [
            j
            for j in self.jobs.values()
            if j.state == JobState.SENDING
            and ((j.lease_until is not None and j.lease_until < now) or j.worker_id not in self.workers)
        ]
        return [
            ClaimedJob(j.id, j.e164, j.body, j.segments, j.attempts, "NL", j.sending_at, j.worker_id)
            for j in stale[:limit]
        ]

    async def settle_reconciled(self, settlements: Sequence[Settlement]) -> int:
        changed = 0
        for s in settlements:
            job = self.jobs[s.job_id]
            if job.state != JobState.SENDING or job.attempts != s.attempts:
                continue
            job.state = JobState.SUBMITTED if s.found else JobState.PENDING
            job.provider_id, job.worker_id, job.lease_until = s.provider_id, None, None
            changed += 1
        return changed

    async def mark_unsettled(
        self, campaign_id: int, after: float, worker_timeout: float, becomes: JobState
    ) -> int:
        now = datetime.now(UTC)
        marked = 0
        for job in self.jobs.values():
            unheld = job.worker_id not in self.workers or (
                job.lease_until is not None and job.lease_until < now
            )
            old = job.sending_at is not None and (now - job.sending_at).total_seconds() > after
            if job.state == JobState.SENDING and unheld and old:
                job.state, job.worker_id, job.lease_until = becomes, None, None
                marked += 1
        return marked

    async def get_campaign(self, campaign_id: int) -> Campaign:
        return self.campaign

    async def pause_campaign(self, campaign_id: int, reason: str) -> Campaign:
        self.campaign = replace(self.campaign, state=CampaignState.PAUSED, reason=reason)
        return self.campaign

    async def complete_campaign_if_done(self, campaign_id: int) -> bool:
        busy = any(j.state in (JobState.PENDING, JobState.SENDING) for j in self.jobs.values())
        if busy or self.campaign.state != CampaignState.RUNNING:
            return False
        self.campaign = replace(self.campaign, state=CampaignState.COMPLETED)
        return True

    async def expire_pending_jobs(self, campaign_id: int) -> int:
        valid_until = self.campaign.valid_until
        if valid_until is None or valid_until > datetime.now(UTC):
            return 0
        expired = [job for job in self.jobs.values() if job.state == JobState.PENDING]
        for job in expired:
            job.state = JobState.EXPIRED
        return len(expired)

    async def cancel_pending_jobs(self, campaign_id: int) -> int:
        pending = [j for j in self.jobs.values() if j.state == JobState.PENDING]
        for job in pending:
            job.state = JobState.CANCELLED
        return len(pending)

    async def add_suppressions(
        self,
        e164s: Sequence[str],
        reason: str,
        source: str,
        *,
        action: str = "manual_add",
        origins: Sequence[str] | None = None,
        campaign_id: int | None = None,
        sender: str = "",
        account: str = "",
    ) -> int:
        new = [e for e in e164s if e not in self.suppressed]
        for e164 in new:
            self.suppressed[e164] = datetime.now(UTC)
        return len(new)

    async def suppressed_since_any(
        self, since: datetime, senders: Sequence[str]
    ) -> list[tuple[str, str, datetime]]:
        self.watch_queries += 1
        return [(e, "", at) for e, at in self.suppressed.items() if at > since]

    async def watch_campaigns(self, campaign_ids: Sequence[int]) -> list[CampaignWatchState]:
        self.watch_queries += 1
        c = self.campaign
        rows = [CampaignWatchState(c.id, c.state, c.valid_until, c.priority, c.sender)]
        return [row for row in rows if row.id in campaign_ids]

    # -- WorkerStore ----------------------------------------------------------------------------

    async def register_worker(self, worker_id: str, hostname: str, pid: int) -> None:
        self.workers.add(worker_id)

    async def heartbeat(self, worker_id: str) -> bool:
        return worker_id in self.workers

    async def unregister_worker(self, worker_id: str) -> None:
        self.workers.discard(worker_id)


# What the provider does with one message: an Outcome, or "lost": stored, but the reply is lost.
Script = Callable[[OutboundMessage, int], Outcome | str]


class MemoryProvider:
    """A provider that stores what it accepts; `script(message, nth_try)` decides each outcome."""

    def __init__(self, script: Script | None = None, batch: int = 1) -> None:
        self.script: Script = script or (lambda _m, _n: Outcome.ACCEPTED)
        self.max_recipients_per_request = batch
        self.looks_up_messages = True
        self.stored: dict[int, str] = {}  # job id → provider id
        self.tries: Counter[int] = Counter()
        self.requests = 0
        self._ids = itertools.count(1)

    @property
    def rate_limit(self) -> RateLimitInfo:
        return RateLimitInfo()

    async def send(self, batch: Sequence[OutboundMessage]) -> list[SendResult]:
        self.requests += 1
        results = []
        for message in batch:
            self.tries[message.ref] += 1
            outcome = self.script(message, self.tries[message.ref])
            if outcome in (Outcome.ACCEPTED, "lost"):
                pid = self.stored[message.ref] = f"m-{next(self._ids)}"
                results.append(
                    SendResult(message.ref, Outcome.ACCEPTED, provider_id=pid)
                    if outcome == Outcome.ACCEPTED
                    else SendResult(message.ref, Outcome.AMBIGUOUS, message="reply lost")
                )
            else:
                assert isinstance(outcome, Outcome)
                results.append(SendResult(message.ref, outcome, code=str(outcome), message="scripted"))
        return results

    async def lookup(self, message: OutboundMessage, since: datetime) -> LookupResult:
        pid = self.stored.get(message.ref)
        return LookupResult(found=pid is not None, provider_id=pid)
