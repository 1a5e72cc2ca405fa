"""The dispatcher: claim → throttle → send → record, for one campaign, exactly once.

The job table is the only truth (ARCHITECTURE.md). A job is claimed into `sending` with a lease before its
request is made, and leaves `sending` only when the result is written back: `submitted`, `pending`
again (transient error, throttled, campaign paused) or `rejected`. A result that leaves us unsure
whether the provider has the message (`ambiguous`), and every job a dead worker left in `sending`,
is settled by asking the provider (`Reconciler`), never by sending again.

Three rules keep a job from being sent twice by two workers:
* a job is only sent while its lease has time left for the whole request (`_lease_allows`);
* a worker whose heartbeat is stale stops sending (`Worker.may_send`), and once it is back sends
  nothing it had claimed before (`Worker.claimed_before_lapse`: others may have taken it over);
* others reconcile a job only after its lease expired or its worker has been silent long enough for
  any request it started to have ended (the store's `stale_sending_jobs`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from campaigner import metrics
from campaigner.compliance.windows import SendingWindows
from campaigner.config import Config
from campaigner.dispatch.campaign_watch import STATE_POLL_SECONDS, CampaignWatch, Watched
from campaigner.dispatch.decide import Decision, RetryPolicy, decide
from campaigner.dispatch.fair_share import FairShare, Lane
from campaigner.dispatch.ports import DispatchStore, ResultStore, Sender
from campaigner.dispatch.quiet_hours import windows_for
from campaigner.dispatch.reconcile import Reconciler
from campaigner.dispatch.recorder import ResultRecorder
from campaigner.dispatch.request_sizing import claim_size
from campaigner.dispatch.throttle import Throttle
from campaigner.dispatch.worker import Worker
from campaigner.model.campaigns import Campaign, CampaignWatchState
from campaigner.model.jobs import ClaimedJob, FrequencyCap, JobResult
from campaigner.model.provider import OutboundMessage, SendResult
from campaigner.model.states import CampaignState, JobState

log = logging.getLogger(__name__)

T = TypeVar("T")

# A request starts only while this much of the campaign's validity is left: the provider must have
# it before the deadline (its own validity, valid_for, is what is left), never after.
EXPIRY_MARGIN = 1.0
# Rounds of stale lookups (up to 100 jobs each) when settling a campaign that is not running.
SETTLE_PASSES = 20
# A campaign has a sender for every request its account may start in this many seconds (at least
# MIN_SENDERS, at most [dispatcher] concurrency), and queues as many requests: enough for replies
# that take up to about that long at the full rate. Each sender holds a claimed request while it
# waits for its turn, so sixteen of them at 5 msg/s held 6 s of claims, and on a starved machine
# (1 msg/s) more than a lease allows: claims given back unsent, claimed again, given back.
SENDER_SECONDS = 2.0
MIN_SENDERS = 2


@dataclass
class RunReport:
    """How a run of one campaign ended, for the CLI and the daemon."""

    campaign_id: int
    state: CampaignState = CampaignState.RUNNING
    reason: str | None = None
    requests: int = 0
    accepted: int = 0
    rejected: int = 0
    retried: int = 0
    throttled: int = 0
    reconciled: dict[str, int] = field(default_factory=dict)
    # Claimed, then not sent because the heartbeat lapsed after the claim (left to reconciliation).
    voided: int = 0


@dataclass(slots=True)
class _Batch:
    jobs: list[ClaimedJob]
    units: int
    claimed_at: float  # monotonic time taken before the claim
    lease_deadline: float  # monotonic time by which a request for these jobs must have ended


class CampaignRunner:
    """Carries one campaign for one worker until it completes, pauses, is cancelled or stopped."""

    def __init__(
        self,
        store: DispatchStore,
        provider: Sender,
        throttle: Throttle,
        config: Config,
        campaign_id: int,
        worker: Worker,
        share: FairShare | None = None,
        watch: CampaignWatch | None = None,
        results: ResultStore | None = None,
    ) -> None:
        self._store = store
        self._provider = provider
        self._throttle = throttle
        self._config = config
        self._campaign_id = campaign_id
        self._worker = worker
        self.report = RunReport(campaign_id)
        dispatcher = config.dispatcher
        self._policy = RetryPolicy(dispatcher.max_attempts, dispatcher.backoff_base, dispatcher.backoff_max)
        # `results`: where the write-backs go when the process shares them among its campaigns
        # (the daemon's ResultBatcher); the store itself otherwise.
        self._recorder = ResultRecorder(
            results or store, worker.id, dispatcher.result_flush_interval, lambda: worker.unbroken_since
        )
        self._metrics = metrics.for_account(config.provider.account)
        self._metrics.watch_throttle(throttle)
        self._reconciler = Reconciler(store, provider, throttle, config, campaign_id, worker.id)
        self._queue: asyncio.Queue[_Batch] = asyncio.Queue()
        self._stop = asyncio.Event()  # stop taking work: a signal, a pause, a cancel, completion
        self._in_flight = 0
        self._senders = config.dispatcher.concurrency  # set by run(): _sender_count
        # Senders waiting for a batch or a slot (`_interruptibly`): the stop cancels them there.
        self._waiting_senders: set[asyncio.Task[object]] = set()
        self._stopping = False  # the stop has cut those waits short; no new one starts
        self._failure: BaseException | None = None
        # Numbers suppressed while this run goes on (STOP replies), as the watcher reports them.
        self._stopped: set[str] = set()
        # The campaign's sending windows in recipients' local time (--quiet-hours, and the
        # account's country table under [compliance] quiet_hours = "country").
        self._windows = SendingWindows()
        # The longest one request may take; a job is only sent while its lease outlasts that.
        self._request_bound = config.provider.request_bound()
        # The campaign's texts are personalised: one recipient a request (Campaign.one_per_request).
        self._one_per_request = False
        # [compliance] frequency_cap, applied by every claim; None when off.
        limit = config.compliance.frequency_cap_limit()
        self._cap = (
            None
            if limit is None
            else FrequencyCap(limit[0], limit[1], config.compliance.frequency_cap_action == "wait")
        )
        # The campaign's valid_until (--valid-for / --valid-until): nothing is sent after it.
        self._deadline: datetime | None = None
        self._void_logged = float("-inf")  # the lapse whose voided claims were last logged
        # The account's rate, shared with the process's other campaigns by [dispatcher] fairness;
        # a runner alone (no share given) has a share of its own, where it is the only lane.
        self._share = share or FairShare(throttle, config.dispatcher.fairness)
        self._lane: Lane | None = None
        # The state, validity and opt-outs, polled for every campaign of the process at once; a
        # runner alone polls for itself.
        self._watch = watch
        self._watched: Watched | None = None

    def stop(self) -> None:
        """Ask the run to stop taking work; in-flight requests finish and are recorded."""
        self._stop.set()

    async def run(self) -> RunReport:
        """Run until the campaign is complete, not running any more, or `stop()` is called."""
        campaign = await self._store.get_campaign(self._campaign_id)
        if campaign.state != CampaignState.RUNNING:
            # Nothing to send, but jobs a cancel or a pause caught in `sending` are settled all the
            # same: their cost, provider id and receipts are real.
            await self._settle_unsure()
            return await self._report_end()
        log.info("campaign %s: dispatching as worker %s", self._campaign_id, self._worker.id)
        self._windows = windows_for(campaign, self._config)
        await asyncio.to_thread(self._windows.warm)
        self._one_per_request = campaign.one_per_request()
        self._deadline = campaign.valid_until
        self._lane = self._share.lane(self._campaign_id, campaign.priority)
        # The largest request this run sends, in the throttle's units: a shared schedule charges
        # every request as that (SharedThrottle._slot_cost). Segments: the campaign's longest message.
        self._throttle.expect_requests_of(self._per_request() * self._most_units(campaign))
        await self._recorder.start()
        await self._reconciler.start()
        self._senders = self._sender_count()
        senders = [asyncio.create_task(self._send_loop(), name=f"sender {i}") for i in range(self._senders)]
        side = [asyncio.create_task(self._claim_loop(), name="claimer")]
        for task in side:
            task.add_done_callback(self._side_task_done)
        own_watch = self._watch is None
        watch = self._watch or CampaignWatch(self._store, STATE_POLL_SECONDS)
        self._watched = watch.watch(
            self._campaign_id, campaign.sender, self._on_state, self._on_stopped, self._on_watch_failed
        )
        try:
            await self._stop.wait()
        finally:
            self._interrupt_waiting()
            self._watched.close()
            if own_watch:
                await watch.close()
            for task in side:
                task.cancel()
            # Senders finish the request they have in flight, then see the stop and exit.
            await asyncio.gather(*side, return_exceptions=True)
            await asyncio.gather(*senders, return_exceptions=True)
            await self._release_queued()
            if self._lane is not None:
                self._lane.close()
            await self._reconciler.stop()
            await self._recorder.stop()
        if self._failure is not None:
            raise self._failure
        campaign = await self._store.get_campaign(self._campaign_id)
        if campaign.state != CampaignState.RUNNING:
            # Stopped by a cancel or a pause, not a signal: settle now what is still unsure (the
            # lookups of ambiguous sends were cut short), rather than leave it for a later run.
            await self._settle_unsure()
        return await self._report_end()

    async def _settle_unsure(self) -> None:
        """Settle the campaign's jobs left in `sending`: ours at once, others' once stale.

        A lookup that fails leaves its job where it is, for the daemon's sweep of campaigns that
        are not running (`Store.unsettled_campaigns`): never a blind resend.
        """
        await self._store.expire_leases(self._campaign_id, self._worker.id)
        for _ in range(SETTLE_PASSES):
            if await self._reconciler.reconcile_stale() == 0:
                break

    async def _report_end(self) -> RunReport:
        self.report.reconciled = dict(self._reconciler.outcomes)
        campaign = await self._store.get_campaign(self._campaign_id)
        if campaign.state == CampaignState.CANCELLED:
            # Jobs released after the cancel, or found unsent by a lookup, went back to pending;
            # they are not to be sent either.
            await self._store.cancel_pending_jobs(self._campaign_id)
        self.report.state = campaign.state
        self.report.reason = self.report.reason or campaign.reason
        return self.report

    def _side_task_done(self, task: asyncio.Task[None]) -> None:
        # A claimer or watcher that dies (the database went away) stops the run rather than leave it
        # waiting for ever; run() then raises its error, and the caller decides (the daemon retries).
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()
            log.error("campaign %s: %s failed: %r", self._campaign_id, task.get_name(), self._failure)
            self._stop.set()

    # -- claiming -------------------------------------------------------------------------------

    def _claim_size(self) -> int:
        # About two seconds of sending at the current rate (lowered after a 429) and this campaign's
        # share of it (FairShare): enough to keep the senders busy, few enough that a crash leaves
        # little in `sending` to look up, and that a claim is sent well within its lease.
        share = self._share.fraction(self._lane) if self._lane is not None else 1.0
        return claim_size(
            self._per_request(),
            self._throttle.messages_per_second * share,
            self._throttle.requests_per_minute * share,
            self._config.dispatcher.batch_size,
        )

    def _sender_count(self) -> int:
        """Senders (and queued requests) for SENDER_SECONDS of the account's request rate; the
        account's, not this campaign's share of it, which grows as other campaigns end."""
        per_request = self._per_request()
        requests_per_second = min(
            self._throttle.messages_per_second / per_request, self._throttle.requests_per_minute / 60.0
        )
        wanted = math.ceil(requests_per_second * SENDER_SECONDS)
        return min(self._config.dispatcher.concurrency, max(MIN_SENDERS, wanted))

    def _per_request(self) -> int:
        # The provider client already applied the configured recipients_per_request.
        if self._one_per_request:
            return 1
        return max(
            1, min(self._provider.max_recipients_per_request, self._throttle.max_messages_per_request())
        )

    def _most_units(self, campaign: Campaign) -> int:
        """The most throttle units one message of `campaign` takes (its segments, when they count)."""
        return campaign.most_segments() if self._config.provider.rate_counts_segments else 1

    def _units(self, job: ClaimedJob) -> int:
        return job.segments if self._config.provider.rate_counts_segments else 1

    async def _claim_loop(self) -> None:
        dispatcher = self._config.dispatcher
        while not self._stop.is_set():
            # Plain sleeps: the stop cancels this loop (run()), so a sleep need not watch for it (a
            # wait_for on the stop event costs a task and a timer each; this loop polls 20 times a
            # second while its queue is full, a hundred campaigns 2,000 times).
            if self._queue.qsize() >= self._senders:
                await asyncio.sleep(0.05)
                continue
            if not self._worker.may_send():
                await asyncio.sleep(dispatcher.poll_interval)
                continue
            if self._deadline is not None and datetime.now(UTC) >= self._deadline:
                # Past valid_until the claim hands out nothing; what is still pending expires.
                if expired := await self._store.expire_pending_jobs(self._campaign_id):
                    log.info("campaign %s: %d jobs expired unsent", self._campaign_id, expired)
            claimed_at = time.monotonic()
            jobs = await self._store.claim_jobs(
                self._campaign_id,
                self._worker.id,
                self._claim_size(),
                dispatcher.lease_seconds,
                self._cap,
            )
            if jobs and self._windows.active:
                jobs = await self._defer_outside_window(jobs, claimed_at)
            if jobs:
                for batch in self._batches(jobs, claimed_at):
                    self._queue.put_nowait(batch)
                continue
            if self._queue.empty() and self._in_flight == 0 and self._reconciler.idle():
                await self._recorder.flush()
                if await self._store.complete_campaign_if_done(self._campaign_id):
                    log.info("campaign %s: complete", self._campaign_id)
                    self._stop.set()
                    return
                # Nothing of this run is queued, in flight or being looked up, and its results are
                # written: a job still `sending` under our worker was orphaned by a write that
                # failed (the database went away) or by an earlier runner of this process. Its
                # lease would keep it from reconciliation for up to lease_seconds; end it now.
                if orphans := await self._store.expire_leases(self._campaign_id, self._worker.id):
                    log.info("campaign %s: %d orphaned jobs to reconcile", self._campaign_id, orphans)
                await self._reconciler.reconcile_stale()
            await asyncio.sleep(min(dispatcher.poll_interval, 0.25))

    def _valid_for(self, e164: str) -> float | None:
        """How long the provider may hold the message: what is left of the recipient's window (so
        that one stuck in the provider's queue is not delivered at night) and of the campaign's
        validity, whichever ends first."""
        limits: list[float] = []
        if self._windows.active and (left := self._windows.seconds_until_closed(e164)) is not None:
            limits.append(left)
        if self._deadline is not None:
            limits.append((self._deadline - datetime.now(UTC)).total_seconds())
        return min(limits) if limits else None

    def _too_late(self) -> bool:
        """Less than EXPIRY_MARGIN of the campaign's validity is left: no request may start."""
        if self._deadline is None:
            return False
        return datetime.now(UTC) + timedelta(seconds=EXPIRY_MARGIN) >= self._deadline

    async def _defer_outside_window(self, jobs: Sequence[ClaimedJob], claimed_at: float) -> list[ClaimedJob]:
        """Put back, until their window opens, the jobs whose recipients' local time is outside it."""
        sendable = []
        now = datetime.now(UTC)
        for job in jobs:
            wait = self._windows.seconds_until_allowed(job.e164, now)
            if wait == 0:
                sendable.append(job)
            elif wait is None:
                message = "no moment inside the sending window in every time zone of the number in 14 days"
                never = JobResult(
                    job.id,
                    JobState.REJECTED,
                    error_code="quiet_hours",
                    error_class="recipient",
                    error_message=message,
                )
                await self._recorder.add(never, claimed_at)
            else:
                await self._recorder.add(
                    JobResult(job.id, JobState.PENDING, retry_in=wait, attempts_delta=-1), claimed_at
                )
        return sendable

    def _batches(self, jobs: Sequence[ClaimedJob], claimed_at: float) -> list[_Batch]:
        """Group claimed jobs into requests: same body (a batch request carries one text), size-capped."""
        per_request = self._per_request()
        capacity = self._throttle.max_messages_per_request()
        batches: list[_Batch] = []
        open_by_body: dict[str, _Batch] = {}
        for job in jobs:
            units = self._units(job)
            batch = open_by_body.get(job.body)
            if batch is None or len(batch.jobs) >= per_request or batch.units + units > capacity:
                batch = _Batch([], 0, claimed_at, claimed_at + self._config.dispatcher.lease_seconds)
                batches.append(batch)
                open_by_body[job.body] = batch
            batch.jobs.append(job)
            batch.units += units
        return batches

    async def _release_queued(self) -> None:
        """Give back jobs that were claimed but never sent (and are still surely ours)."""
        ids: list[int] = []
        while not self._queue.empty():
            batch = self._queue.get_nowait()
            if self._worker.claimed_before_lapse(batch.claimed_at):
                self._void(batch)
            else:
                ids.extend(job.id for job in batch.jobs)
        if ids:
            await self._recorder.flush()
            await self._store.release_jobs(self._worker.id, ids)

    # -- sending --------------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while not self._stop.is_set():
            # Wait (stoppably) only when the queue is empty.
            if self._queue.qsize():
                batch: _Batch | None = self._queue.get_nowait()
            else:
                batch = await self._interruptibly(self._queue.get)
            if batch is None:
                return
            self._in_flight += 1
            try:
                await self._send_batch(batch)
            finally:
                self._in_flight -= 1

    async def _send_batch(self, batch: _Batch) -> None:
        acquired = await self._interruptibly(lambda: self._acquire(max(1, batch.units)))
        if acquired is None:
            self._queue.put_nowait(batch)  # stopping: released with the rest of the queue
            return
        if self._worker.claimed_before_lapse(batch.claimed_at):
            self._void(batch)
            return
        if not self._lease_allows(batch) or not self._worker.may_send():
            # Not sent, and too late to send safely: give the jobs back now rather than leave
            # them in `sending` for reconciliation.
            log.warning("campaign %s: lease or heartbeat too old to send; releasing", self._campaign_id)
            await self._store.release_jobs(self._worker.id, [job.id for job in batch.jobs])
            return
        if self._too_late():
            # Claimed before the deadline, not sent by it: back to pending, where the claim loop
            # expires them (sending -> pending frees their frequency-cap slots too).
            log.info(
                "campaign %s: validity over; %d claimed jobs not sent", self._campaign_id, len(batch.jobs)
            )
            await self._store.release_jobs(self._worker.id, [job.id for job in batch.jobs])
            return
        jobs = await self._hold_back_stopped(batch) if self._stopped else batch.jobs
        if not jobs:
            return
        messages = [
            OutboundMessage(job.id, job.e164, job.body, int(job.segments), self._valid_for(job.e164))
            for job in jobs
        ]
        self.report.requests += 1
        began = time.monotonic()
        results = await self._provider.send(messages)
        self._metrics.on_send(time.monotonic() - began, results)
        self._observe_rate_limit()
        by_id = {job.id: job for job in jobs}
        done: list[JobResult] = []
        for result in results:
            job = by_id.get(result.ref)
            await self._apply(result, int(job.attempts) if job is not None else 1, job, done)
        # One call for the whole request: a batch of 500 results is one buffer append, not 500 awaits.
        await self._recorder.add_many(done, batch.claimed_at)

    def _void(self, batch: _Batch) -> None:
        """Neither send nor write back jobs claimed before our heartbeat lapsed (see Worker)."""
        self.report.voided += len(batch.jobs)
        if self._void_logged != self._worker.unbroken_since:
            self._void_logged = self._worker.unbroken_since
            log.warning(
                "campaign %s: not sending what was claimed before the heartbeat lapsed: others may "
                "have taken those jobs over; whoever finds them still sending looks them up",
                self._campaign_id,
            )

    async def _acquire(self, units: int) -> bool:
        """The throttle's permission to send `units` (in this campaign's turn: FairShare), or False
        once the validity is (nearly) over: a batch that would wait past the deadline is released
        now, not when the throttle lets it."""
        assert self._lane is not None  # opened by run() before any sender starts
        if self._deadline is None:
            await self._lane.acquire(units)
            return True
        left = (self._deadline - datetime.now(UTC)).total_seconds() - EXPIRY_MARGIN
        if left <= 0:
            return False
        try:
            await asyncio.wait_for(self._lane.acquire(units), left)
        except TimeoutError:
            return False
        return True

    def _lease_allows(self, batch: _Batch) -> bool:
        return time.monotonic() + self._request_bound < batch.lease_deadline

    def _observe_rate_limit(self) -> None:
        info = self._provider.rate_limit
        self._throttle.on_rate_limit(info.limit, info.remaining)

    async def _apply(
        self, result: SendResult, attempts: int, job: ClaimedJob | None, done: list[JobResult]
    ) -> None:
        """Act on one result; the job's write-back goes to `done` (recorded by the caller)."""
        decision: Decision = decide(result, attempts, self._policy)
        if decision.throttled_for is not None:
            self.report.throttled += 1
            self._throttle.on_throttled(decision.throttled_for)
        elif decision.result is not None and decision.result.provider_id is not None:
            self._throttle.on_success()
        if decision.result is None:
            if job is not None:  # a result for a job we did not send is the client's bug: ignored
                await self._reconciler.submit(job, result)
            return
        state = decision.result.state
        if state == JobState.SUBMITTED:
            self.report.accepted += 1
        elif state == JobState.REJECTED:
            self.report.rejected += 1
        elif decision.throttled_for is None and decision.pause_reason is None:
            self.report.retried += 1
        done.append(decision.result)
        if decision.suppress and job is not None:
            # The provider's code is the source (Clickatell 121 blocked, 122 opted out, 128, 250).
            source = f"provider:{result.code}" if result.code else "provider"
            await self._store.add_suppressions(
                [job.e164],
                "opt_out",
                source,
                action="provider_block",
                campaign_id=self._campaign_id,
                account=self._config.provider.account,
            )
        if decision.pause_reason is not None:
            await self._pause(decision.pause_reason)

    async def _pause(self, reason: str) -> None:
        if self._stop.is_set() and self.report.reason:
            return
        log.warning("campaign %s: pausing: %s", self._campaign_id, reason)
        self.report.reason = reason
        self._stop.set()
        await self._store.pause_campaign(self._campaign_id, reason)

    # -- state --------------------------------------------------------------------------------

    def _on_state(self, campaign: CampaignWatchState) -> None:
        """The watcher's latest read of the campaign (every STATE_POLL_SECONDS)."""
        # The validity as stored now: the claim reads it there too, so the two agree.
        self._deadline = campaign.valid_until
        if self._lane is not None:
            self._lane.set_priority(campaign.priority)
        if campaign.state != CampaignState.RUNNING and not self._stop.is_set():
            log.info("campaign %s: now %s; stopping", self._campaign_id, campaign.state)
            self._stop.set()

    def _on_stopped(self, e164s: Sequence[str]) -> None:
        """Numbers suppressed since (about) this run began: account-wide entries and those of this
        campaign's sender (compliance.opt_out_scope); an entry for another sender does not hold
        this campaign's jobs (the claim sends them). The watcher picks them."""
        self._stopped.update(e164s)

    def _on_watch_failed(self, error: BaseException) -> None:
        # As a side task that dies: the run stops and raises it (the daemon restarts the runner).
        if self._failure is None and not self._stop.is_set():
            self._failure = error
            log.error("campaign %s: state watcher failed: %r", self._campaign_id, error)
            self._stop.set()

    async def _hold_back_stopped(self, batch: _Batch) -> list[ClaimedJob]:
        """Jobs of numbers suppressed since they were claimed (a STOP reply) are not sent.

        They go back to pending, and the next claim, which sees the suppression, skips them.
        """
        held = [job for job in batch.jobs if job.e164 in self._stopped]
        if not held:
            return batch.jobs
        await self._store.release_jobs(self._worker.id, [job.id for job in held])
        log.info(
            "campaign %s: %d claimed jobs not sent: their numbers opted out", self._campaign_id, len(held)
        )
        return [job for job in batch.jobs if job.e164 not in self._stopped]

    def _interrupt_waiting(self) -> None:
        """The stop: senders waiting for a batch or a slot give up their wait (in-flight requests
        finish, and their senders then see the stop)."""
        self._stopping = True
        for task in list(self._waiting_senders):
            task.cancel()

    async def _interruptibly(self, wait: Callable[[], Awaitable[T]]) -> T | None:
        """Await `wait()` unless the stop comes first (then None; the wait is cancelled).

        The stop cancels the senders waiting here (`_interrupt_waiting`), rather than every wait
        racing a stopper task of its own: two tasks and an asyncio.wait a wait, two waits a request,
        were a tenth of a busy daemon's loop. A batch taken from the queue by a get that the stop
        cuts short stays in the queue (asyncio.Queue.get), and is released with the rest of it.
        """
        if self._stopping:
            return None
        task = asyncio.current_task()
        assert task is not None
        self._waiting_senders.add(task)
        try:
            return await wait()
        except asyncio.CancelledError:
            if not self._stopping:
                raise  # cancelled from outside (the daemon after its grace period): not ours
            task.uncancel()
            return None
        finally:
            self._waiting_senders.discard(task)
