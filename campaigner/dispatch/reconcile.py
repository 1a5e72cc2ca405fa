"""Reconciliation: settle jobs that may or may not have reached the provider by asking it.

Two kinds of job are unsure. A send whose result was `ambiguous` (a timeout, a dropped connection, a
reply that could not be read) stays in `sending` under our lease; we look it up a moment later. A
job that a dead or overdue worker left in `sending` is found by `stale_sending_jobs` and looked up by
whoever runs next. Found: `submitted` with the provider's id. Not found: `pending`, to be sent
again. A lookup that fails leaves the job where it is, for a later try: never a blind resend.

A provider that cannot look a message up by our id (Clickatell: `Sender.looks_up_messages` is
false) is never asked. Its ambiguous jobs wait in `sending` for their status callback, which echoes
our clientMessageId and settles them (`inbound/receipts.py`); one that no callback settles within
`provider.unsettled_after` seconds, and that nobody holds any more, follows
`provider.unsettled_policy`: `unknown` (the default: reported, never resent) or `resend`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from campaigner import metrics
from campaigner.config import Config
from campaigner.dispatch.ports import ReconcileStore, Sender
from campaigner.dispatch.throttle import Throttle
from campaigner.errors import CampaignerError
from campaigner.model.jobs import ClaimedJob, JobResult, Settlement
from campaigner.model.provider import LookupResult, OutboundMessage, Outcome, SendResult
from campaigner.model.states import JobState

log = logging.getLogger(__name__)

# Our clock and the provider's may disagree; look this far before the claim for the message.
CLOCK_SKEW = timedelta(minutes=2)
# Wait this long after an ambiguous result before the lookup: the provider may still be storing it.
AMBIGUOUS_SETTLE_SECONDS = 1.0
# Ambiguous sends looked up at the same time (each lookup is paced by the throttle anyway).
LOOKUPS_AT_ONCE = 8
# Lookups of one job that may fail before it is left for stale reconciliation.
LOOKUP_TRIES = 3
# After a stale pass whose lookups failed, the next waits this long, doubling up to the cap: the
# provider asks pollers to back off, and every lookup costs a request of the account's budget.
STALE_BACKOFF_FIRST = 1.0
STALE_BACKOFF_CAP = 60.0
# How often jobs waiting for a callback are checked against provider.unsettled_after (one query).
UNSETTLED_CHECK_SECONDS = 2.0


class Reconciler:
    """Looks unsure jobs up at the provider and settles them, for one campaign."""

    def __init__(
        self,
        store: ReconcileStore,
        provider: Sender,
        throttle: Throttle,
        config: Config,
        campaign_id: int,
        worker_id: str,
    ) -> None:
        self._store = store
        self._provider = provider
        self._throttle = throttle
        self._campaign_id = campaign_id
        self._worker_id = worker_id
        self._max_attempts = config.dispatcher.max_attempts
        # Others' jobs are stale once their worker has been silent for worker_timeout plus the
        # longest request it may still have had in flight.
        self._dead_after = config.dispatcher.worker_timeout + config.provider.request_bound()
        self._settling: set[asyncio.Task[None]] = set()
        self._stale_backoff = 0.0
        self._stale_not_before = float("-inf")
        self._lookups = asyncio.Semaphore(LOOKUPS_AT_ONCE)
        self._looks_up = provider.looks_up_messages
        self._unsettled_after = config.provider.unsettled_after
        self._unsettled_becomes = (
            JobState.PENDING if config.provider.unsettled_policy == "resend" else JobState.UNKNOWN
        )
        self._next_unsettled_check = float("-inf")
        self.outcomes: Counter[str] = metrics.ReconcileOutcomes()  # also counted in /metrics

    async def start(self) -> None:
        """Settle what dead workers left behind; our own ambiguous sends are settled as they come."""
        await self.reconcile_stale()

    async def stop(self) -> None:
        """Stop; ambiguous jobs not yet looked up stay in `sending` for the next run."""
        for task in self._settling:
            task.cancel()
        await asyncio.gather(*self._settling, return_exceptions=True)

    def idle(self) -> bool:
        """True when no ambiguous job of ours waits for a lookup."""
        return not self._settling

    async def submit(self, job: ClaimedJob, result: SendResult | None = None) -> None:
        """Settle one of our jobs whose send was ambiguous, a moment from now, beside the others.

        `result` is the ambiguous result: its `if_absent` says what the job becomes when the
        provider has no such message (a refusal it could not prove), instead of sending it again.
        """
        self.outcomes["ambiguous"] += 1
        if not self._looks_up:
            # Nothing to ask: the job stays in `sending` until its callback settles it, or
            # provider.unsettled_after passes (reconcile_stale).
            self.outcomes["awaiting_callback"] += 1
            return
        task = asyncio.create_task(self._settle_later(job, result), name=f"reconcile job {job.id}")
        self._settling.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._settling.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The job stays in `sending`; stale reconciliation settles it once its lease expires.
            log.warning(
                "campaign %s: settling an ambiguous send failed: %r", self._campaign_id, task.exception()
            )

    async def reconcile_stale(self, limit: int = 100) -> int:
        """Settle up to `limit` jobs that other (dead or overdue) workers left in `sending`.

        When a lookup fails the pass stops there (the provider cannot answer now: the rest would
        fail the same way), and later passes back off, 1 s doubling to 60 s, returning 0 at once.
        """
        if not self._looks_up:
            return await self._mark_unsettled()
        if time.monotonic() < self._stale_not_before:
            return 0
        jobs = await self._store.stale_sending_jobs(self._campaign_id, limit, self._dead_after)
        settlements: list[Settlement] = []
        for job in jobs:
            found = await self._lookup(job)
            if found is None:
                backoff = max(STALE_BACKOFF_FIRST, 2 * self._stale_backoff)
                self._stale_backoff = min(STALE_BACKOFF_CAP, backoff)
                self._stale_not_before = time.monotonic() + self._stale_backoff
                break
            settlements.append(
                Settlement(job.id, int(job.attempts), found.found, found.provider_id, job.sending_at)
            )
            self.outcomes["stale_found" if found.found else "stale_not_found"] += 1
        else:
            self._stale_backoff = 0.0
        if settlements:
            settled = await self._store.settle_reconciled(settlements)
            log.info(
                "campaign %s: reconciled %d stale jobs",
                self._campaign_id,
                settled,
                extra={"campaign_id": self._campaign_id, "worker_id": self._worker_id},
            )
        return len(settlements)

    async def _mark_unsettled(self) -> int:
        """Jobs no callback settled in time → unknown (or pending, by policy); at most every 2 s."""
        now = time.monotonic()
        if now < self._next_unsettled_check:
            return 0
        self._next_unsettled_check = now + UNSETTLED_CHECK_SECONDS
        marked = await self._store.mark_unsettled(
            self._campaign_id, self._unsettled_after, self._dead_after, self._unsettled_becomes
        )
        if marked:
            self.outcomes[str(self._unsettled_becomes)] += marked
            log.warning(
                "campaign %s: %d jobs had no status callback within %g s: %s",
                self._campaign_id,
                marked,
                self._unsettled_after,
                "marked unknown (never resent; `campaigner retry --unknown` sends them again)"
                if self._unsettled_becomes is JobState.UNKNOWN
                else "to be sent again (provider.unsettled_policy = resend)",
                extra={"campaign_id": self._campaign_id, "worker_id": self._worker_id},
            )
        return marked

    async def _settle_later(self, job: ClaimedJob, result: SendResult | None) -> None:
        await asyncio.sleep(AMBIGUOUS_SETTLE_SECONDS)
        async with self._lookups:
            await self._settle_own(job, result)

    async def _settle_own(self, job: ClaimedJob, sent: SendResult | None = None) -> None:
        for _ in range(LOOKUP_TRIES):
            found = await self._lookup(job)
            if found is not None:
                break
            await asyncio.sleep(AMBIGUOUS_SETTLE_SECONDS)
        else:
            # Still unsure: leave it in `sending`; once its lease expires, stale reconciliation
            # (ours or another worker's) tries again.
            self.outcomes["lookup_failed"] += 1
            return
        if found.found:
            self.outcomes["found"] += 1
            result = JobResult(job.id, JobState.SUBMITTED, provider_id=found.provider_id)
        elif sent is not None and sent.if_absent is Outcome.RECIPIENT:
            # The provider said it could not send this one, and indeed has no such message.
            self.outcomes["not_found"] += 1
            result = JobResult(
                job.id,
                JobState.REJECTED,
                error_code=sent.code or "recipient",
                error_class="recipient",
                error_message=sent.message or "refused by the provider",
            )
        elif int(job.attempts) >= self._max_attempts:
            self.outcomes["not_found"] += 1
            result = JobResult(
                job.id,
                JobState.REJECTED,
                error_code="ambiguous",
                error_class="transient",
                error_message=f"gave up after {job.attempts} attempts with no reply from the provider",
            )
        else:
            self.outcomes["not_found"] += 1
            result = JobResult(
                job.id,
                JobState.PENDING,
                error_code="ambiguous",
                error_class="transient",
                error_message="no reply from the provider, and it has no such message: sending again",
            )
        await self._store.record_results(self._worker_id, [result])

    async def _lookup(self, job: ClaimedJob) -> LookupResult | None:
        """Ask the provider; None when it cannot tell us (the job stays unsure)."""
        # A stale job always has its claim time; our own ambiguous send too (set by the claim).
        since = (job.sending_at or datetime.now(UTC)) - CLOCK_SKEW
        message = OutboundMessage(job.id, job.e164, job.body, int(job.segments))
        await self._throttle.acquire(0)
        try:
            return await self._provider.lookup(message, since)
        except CampaignerError as exc:
            log.warning(
                "campaign %s: lookup of job %s failed: %s",
                self._campaign_id,
                job.id,
                exc,
                extra={"campaign_id": self._campaign_id, "job_id": job.id},
            )
            return None
