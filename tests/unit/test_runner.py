"""The dispatcher's claim → send → record → reconcile logic against the in-memory ports.

Fast and exact: no database, no socket. The same guarantees against PostgreSQL and the sandbox
over HTTP are in tests/integration/test_dispatcher.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from campaigner.config import Config, config_from_mapping
from campaigner.dispatch.recorder import ResultRecorder
from campaigner.dispatch.runner import CampaignRunner, RunReport
from campaigner.dispatch.throttle import Limits, Throttle
from campaigner.dispatch.worker import Worker
from campaigner.model.jobs import JobResult
from campaigner.model.provider import LookupResult, OutboundMessage, Outcome, SendResult
from campaigner.model.states import CampaignState, JobState
from campaigner.providers.errors import ProviderUnavailable
from tests.builders import numbers
from tests.unit.memory_ports import MemoryProvider, MemoryStore


def fast_config(**dispatcher: float) -> Config:
    return config_from_mapping(
        {
            "provider": {"requests_per_minute": 60_000, "messages_per_second": 1000, "window_margin": 0},
            "dispatcher": {
                "poll_interval": 0.02,
                "result_flush_interval": 0.02,
                "backoff_base": 0.01,
                "backoff_max": 0.01,
                "max_attempts": 3,
                **dispatcher,
            },
        },
        source="<unit>",
    )


async def run(store: MemoryStore, provider: MemoryProvider, config: Config | None = None) -> RunReport:
    config = config or fast_config()
    worker = Worker(store, config.dispatcher.heartbeat_interval, config.dispatcher.worker_timeout)
    await worker.start()
    try:
        runner = CampaignRunner(store, provider, Throttle(Limits.of(config.provider)), config, 1, worker)
        return await asyncio.wait_for(runner.run(), 20)
    finally:
        await worker.stop()


async def test_every_job_is_sent_once_and_the_campaign_completes() -> None:
    store, provider = MemoryStore(numbers(50)), MemoryProvider()
    report = await run(store, provider)
    assert report.state == CampaignState.COMPLETED and report.accepted == 50
    assert store.states() == {"submitted": 50}
    assert set(provider.tries.values()) == {1}


async def test_a_lost_reply_is_looked_up_not_resent() -> None:
    lost = {3, 7}
    store = MemoryStore(numbers(10))
    provider = MemoryProvider(lambda m, n: "lost" if m.ref in lost else Outcome.ACCEPTED)
    report = await run(store, provider)
    assert report.state == CampaignState.COMPLETED
    assert store.states() == {"submitted": 10}
    assert all(provider.tries[ref] == 1 for ref in lost)  # found by the lookup: never sent twice
    assert store.jobs[3].provider_id == provider.stored[3]


async def test_an_ambiguous_send_the_provider_never_stored_is_sent_again_once() -> None:
    def script(message: OutboundMessage, nth: int) -> Outcome:
        return Outcome.AMBIGUOUS if message.ref == 5 and nth == 1 else Outcome.ACCEPTED

    store, provider = MemoryStore(numbers(8)), MemoryProvider(script)
    await run(store, provider)
    assert provider.tries[5] == 2 and store.jobs[5].state == JobState.SUBMITTED


async def test_transient_errors_are_retried_then_rejected_after_max_attempts() -> None:
    def script(message: OutboundMessage, nth: int) -> Outcome:
        if message.ref == 1:
            return Outcome.TRANSIENT  # for ever
        return Outcome.TRANSIENT if nth == 1 else Outcome.ACCEPTED

    store, provider = MemoryStore(numbers(4)), MemoryProvider(script)
    report = await run(store, provider)
    assert report.state == CampaignState.COMPLETED
    assert store.jobs[1].state == JobState.REJECTED and provider.tries[1] == 3  # max_attempts
    assert all(store.jobs[i].state == JobState.SUBMITTED and provider.tries[i] == 2 for i in (2, 3, 4))


async def test_an_account_error_pauses_the_campaign_and_costs_no_attempt() -> None:
    store = MemoryStore(numbers(5))
    provider = MemoryProvider(lambda m, n: Outcome.ACCOUNT)
    report = await run(store, provider, fast_config(concurrency=1, batch_size=1))
    assert report.state == CampaignState.PAUSED and report.reason and report.reason.startswith("account")
    assert store.campaign.state == CampaignState.PAUSED
    assert {job.state for job in store.jobs.values()} == {JobState.PENDING}
    assert {job.attempts for job in store.jobs.values()} == {0}


async def test_a_suppressed_number_is_skipped_at_claim() -> None:
    targets = numbers(6)
    store, provider = MemoryStore(targets), MemoryProvider()
    await store.add_suppressions([targets[2]], "stop_reply", "inbound")
    await run(store, provider)
    assert store.jobs[3].state == JobState.SKIPPED and 3 not in provider.tries
    assert store.states() == {"submitted": 5, "skipped": 1}


async def test_jobs_a_dead_worker_left_sending_are_reconciled_not_resent() -> None:
    store, provider = MemoryStore(numbers(4)), MemoryProvider()
    # A worker that is gone claimed two jobs; the provider has one of them.
    dead = await store.claim_jobs(1, "dead-worker", 2, 60)
    provider.stored[dead[0].id] = "m-dead"
    await run(store, provider)
    assert store.jobs[dead[0].id].provider_id == "m-dead" and dead[0].id not in provider.tries
    assert provider.tries[dead[1].id] == 1  # not found: pending again, then sent once
    assert store.states() == {"submitted": 4}


async def test_a_batching_provider_gets_one_request_per_text() -> None:
    store, provider = MemoryStore(numbers(40), body="Same for all"), MemoryProvider(batch=20)
    await run(store, provider, fast_config(batch_size=40))
    assert store.states() == {"submitted": 40}
    assert provider.requests == 2


async def test_a_personalised_campaign_goes_one_number_a_request_even_where_two_share_a_text() -> None:
    # The shared schedule charges every request as the largest one a run may send: batching the
    # few recipients of a personalised text who share a text would make every request as dear as
    # a batch. So a campaign whose preview says `personalised` sends one number a request.
    store, provider = MemoryStore(numbers(40), body="Hi Anna"), MemoryProvider(batch=20)
    store.campaign = replace(store.campaign, preview={"personalised": True})
    await run(store, provider, fast_config(batch_size=40))
    assert store.states() == {"submitted": 40}
    assert provider.requests == 40


async def test_a_cancel_during_an_unsure_send_still_settles_it() -> None:
    store = MemoryStore(numbers(30))

    def script(message: OutboundMessage, nth: int) -> Outcome | str:
        if message.ref == 1:
            # The reply to the first send is lost, and the campaign is cancelled meanwhile.
            store.campaign = replace(store.campaign, state=CampaignState.CANCELLED)
            return "lost"
        return Outcome.ACCEPTED

    provider = MemoryProvider(script)
    report = await run(store, provider, fast_config(concurrency=1, batch_size=1))
    assert report.state == CampaignState.CANCELLED
    assert store.jobs[1].state == JobState.SUBMITTED  # looked up after the stop, not left sending
    assert store.jobs[1].provider_id == provider.stored[1]
    assert JobState.SENDING not in {job.state for job in store.jobs.values()}
    sent = {ref for ref in provider.stored}
    assert {i for i, job in store.jobs.items() if job.state == JobState.SUBMITTED} == sent


async def test_a_runner_of_a_campaign_that_is_not_running_settles_what_was_left_sending() -> None:
    store, provider = MemoryStore(numbers(5)), MemoryProvider()
    left = await store.claim_jobs(1, "gone", 2, 60)  # a worker that died mid-send
    provider.stored[left[0].id] = "m-1"
    store.campaign = replace(store.campaign, state=CampaignState.CANCELLED)
    report = await run(store, provider)
    assert report.state == CampaignState.CANCELLED and not provider.tries  # nothing sent
    assert store.jobs[left[0].id].state == JobState.SUBMITTED
    assert store.jobs[left[1].id].state == JobState.CANCELLED  # not found: pending, then cancelled
    assert store.states() == {"submitted": 1, "cancelled": 4}


async def test_a_refusal_that_may_have_been_stored_is_looked_up_then_rejected_if_absent() -> None:
    refused = SendResult(0, Outcome.AMBIGUOUS, code="send_failed", if_absent=Outcome.RECIPIENT)

    class Refusing(MemoryProvider):
        async def send(self, batch: Sequence[OutboundMessage]) -> list[SendResult]:
            results = await super().send(batch)
            out = []
            for message, result in zip(batch, results, strict=True):
                if message.ref in (2, 3):
                    if message.ref == 2:
                        del self.stored[message.ref]  # refused: nothing stored
                    out.append(replace(refused, ref=message.ref))  # 3: stored despite the error
                else:
                    out.append(result)
            return out

    store, provider = MemoryStore(numbers(4)), Refusing()
    await run(store, provider)
    assert store.jobs[2].state == JobState.REJECTED and store.jobs[2].error_code == "send_failed"
    assert store.jobs[3].state == JobState.SUBMITTED and store.jobs[3].provider_id == provider.stored[3]
    assert provider.tries[2] == provider.tries[3] == 1  # neither is sent again


async def test_stale_lookups_back_off_while_the_provider_cannot_answer() -> None:
    times: list[float] = []
    third = asyncio.Event()

    class Unanswering(MemoryProvider):
        async def lookup(self, message: OutboundMessage, since: datetime) -> LookupResult:
            times.append(time.monotonic())
            if len(times) == 3:
                third.set()
            raise ProviderUnavailable("cliqtel: GET /messages: HTTP 503")

    store, provider = MemoryStore(numbers(3)), Unanswering()
    await store.claim_jobs(1, "gone", 1, 60)  # left sending by a worker that died
    config = fast_config()
    worker = Worker(store, config.dispatcher.heartbeat_interval, config.dispatcher.worker_timeout)
    await worker.start()
    runner = CampaignRunner(store, provider, Throttle(Limits.of(config.provider)), config, 1, worker)
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(third.wait(), 10)
    finally:
        runner.stop()
        await task
        await worker.stop()
    # Idle, the runner tries stale jobs every 0.02 s here; failing lookups wait 1 s, then 2 s.
    assert times[1] - times[0] >= 0.9 and times[2] - times[1] >= 1.9


async def test_without_lookups_a_lost_reply_waits_then_becomes_unknown_never_resent() -> None:
    # Clickatell: no lookup by our id. A lost reply stays `sending` (its callback would settle it);
    # after provider.unsettled_after it is `unknown`, the campaign completes, nothing is sent twice.
    lost = {2, 5}
    asked: list[int] = []

    class NoLookups(MemoryProvider):
        async def lookup(self, message: OutboundMessage, since: datetime) -> LookupResult:
            asked.append(message.ref)
            raise AssertionError("a provider without lookups is never asked")

    store = MemoryStore(numbers(8))
    provider = NoLookups(lambda m, n: "lost" if m.ref in lost else Outcome.ACCEPTED)
    provider.looks_up_messages = False
    config = fast_config()
    config = config.model_copy(
        update={"provider": config.provider.model_copy(update={"unsettled_after": 0.3})}
    )
    report = await run(store, provider, config)
    assert report.state == CampaignState.COMPLETED
    assert store.states() == {"submitted": 6, "unknown": 2}
    assert {store.jobs[ref].state for ref in lost} == {JobState.UNKNOWN}
    assert set(provider.tries.values()) == {1} and not asked
    assert report.reconciled.get("unknown") == 2 and report.reconciled.get("awaiting_callback") == 2


class CutOffStore(MemoryStore):
    """A store whose heartbeats hang while `reachable` is clear: the host's link is cut."""

    def __init__(self, count: int) -> None:
        super().__init__(numbers(count))
        self.reachable = asyncio.Event()
        self.reachable.set()

    async def heartbeat(self, worker_id: str) -> bool:
        await self.reachable.wait()
        return await super().heartbeat(worker_id)


async def until(condition: Callable[[], bool], what: str, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_a_heartbeat_that_lapsed_and_came_back_voids_every_claim_made_before() -> None:
    store = CutOffStore(1)
    worker = Worker(store, heartbeat_interval=0.02, worker_timeout=0.2)
    await worker.start()
    try:
        before = time.monotonic()
        await asyncio.sleep(0.05)
        assert worker.may_send() and not worker.claimed_before_lapse(before)  # beats kept it fresh
        store.reachable.clear()
        await until(lambda: not worker.may_send(), "the heartbeat to go stale")
        store.reachable.set()
        await until(worker.may_send, "the heartbeat to come back")
        assert worker.claimed_before_lapse(before)
        assert not worker.claimed_before_lapse(time.monotonic())
    finally:
        await worker.stop()


async def test_a_worker_cut_off_mid_campaign_sends_nothing_it_had_claimed_once_it_is_back() -> None:
    # benchmarks/partition.py: a host's link is cut with jobs claimed and queued; the others find
    # them stale, look them up and send them. When the link is back the host's leases still have
    # time left and its heartbeat is fresh again, but those jobs are not its own any more.
    store = CutOffStore(12)
    in_flight, answer = asyncio.Event(), asyncio.Event()

    class Stuck(MemoryProvider):
        async def send(self, batch: Sequence[OutboundMessage]) -> list[SendResult]:
            if not in_flight.is_set():
                in_flight.set()
                await answer.wait()  # the request in flight when the link went
            return await super().send(batch)

    provider = Stuck()
    config = fast_config(
        concurrency=1, batch_size=6, worker_timeout=0.4, heartbeat_interval=0.02, lease_seconds=60
    )
    worker = Worker(store, config.dispatcher.heartbeat_interval, config.dispatcher.worker_timeout)
    await worker.start()
    runner = CampaignRunner(store, provider, Throttle(Limits.of(config.provider)), config, 1, worker)
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(in_flight.wait(), 5)
        queued = [job.id for job in store.jobs.values() if job.state == JobState.SENDING][1:]
        assert queued, "jobs claimed and waiting behind the request in flight"
        store.reachable.clear()
        await until(lambda: not worker.may_send(), "the cut-off worker to stop trusting its heartbeat")
        for job_id in queued:  # the others reconcile them (not found) and send them
            job = store.jobs[job_id]
            job.state, job.worker_id, job.provider_id = JobState.SUBMITTED, None, f"other-{job_id}"
            provider.stored[job_id] = f"other-{job_id}"
        store.reachable.set()
        await until(worker.may_send, "the heartbeat to come back")
        answer.set()
        report = await asyncio.wait_for(task, 10)
    finally:
        runner.stop()
        await asyncio.gather(task, return_exceptions=True)
        await worker.stop()
    assert not set(queued) & set(provider.tries), "sent jobs the others had taken over"
    assert report.voided == len(queued)
    assert report.state == CampaignState.COMPLETED and store.states() == {"submitted": 12}
    assert set(provider.tries.values()) == {1}


async def test_a_result_of_a_job_claimed_before_a_heartbeat_lapse_is_not_written() -> None:
    # After the lapse the job may have been reconciled and claimed again by this same worker: the
    # store's guard (our worker, still sending) would let the old result overwrite the new claim.
    store = MemoryStore(numbers(2))
    await store.claim_jobs(1, "w", 2, 60)
    lapse_ended = [float("-inf")]
    recorder = ResultRecorder(store, "w", 60.0, lambda: lapse_ended[0])
    await recorder.add(JobResult(1, JobState.SUBMITTED, provider_id="m-1"), time.monotonic())
    lapse_ended[0] = time.monotonic()
    await recorder.add(JobResult(2, JobState.SUBMITTED, provider_id="m-2"), time.monotonic())
    await recorder.flush()
    assert store.jobs[1].state == JobState.SENDING  # left to reconciliation, which looks it up
    assert store.jobs[2].state == JobState.SUBMITTED and store.jobs[2].provider_id == "m-2"
