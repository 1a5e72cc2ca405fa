"""The job side of the store against a real PostgreSQL: claims, results, reconciliation, receipts."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from campaigner.errors import StateError
from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.model.inbound import FinalReceipt
from campaigner.model.jobs import JobResult, Settlement
from campaigner.model.states import JobState
from campaigner.store.jobs import CLAIM_PASSES
from campaigner.store.store import Store
from tests.builders import make_campaign, message
from tests.store_helpers import jobs_of


async def test_claim_takes_due_pending_jobs_in_id_order_under_a_lease(store: Store) -> None:
    campaign_id = await make_campaign(store, 50)
    await store.register_worker("w1", "host", 1)
    jobs = await store.claim_jobs(campaign_id, "w1", 10, 30)
    assert [j.id for j in jobs] == sorted(j.id for j in jobs) and len(jobs) == 10
    assert all(j.attempts == 1 and j.sending_at is not None for j in jobs)
    job = await store.get_job(jobs[0].id)
    assert job is not None and job.state == "sending" and job.worker_id == "w1"
    assert job.lease_expires_at is not None and job.lease_expires_at > job.sending_at  # type: ignore[operator]
    assert await store.job_counts(campaign_id) == {"pending": 40, "sending": 10}


async def test_claim_takes_nothing_unless_the_campaign_is_running(store: Store) -> None:
    draft = await make_campaign(store, 5, state="draft")
    paused = await make_campaign(store, 5, state="paused", start=100)
    assert await store.claim_jobs(draft, "w1", 10, 30) == []
    assert await store.claim_jobs(paused, "w1", 10, 30) == []


async def test_two_concurrent_claimers_never_get_the_same_job(store: Store) -> None:
    campaign_id = await make_campaign(store, 2000)

    async def claimer(worker: str) -> list[int]:
        got: list[int] = []
        while jobs := await store.claim_jobs(campaign_id, worker, 7, 30):
            got.extend(j.id for j in jobs)
        return got

    first, second = await asyncio.gather(claimer("a"), claimer("b"))
    assert not set(first) & set(second)
    assert len(first) + len(second) == 2000


async def test_record_results_submits_retries_and_rejects_only_our_sending_jobs(store: Store) -> None:
    campaign_id = await make_campaign(store, 4)
    jobs = await store.claim_jobs(campaign_id, "w1", 4, 30)
    results = [
        JobResult(jobs[0].id, JobState.SUBMITTED, provider_id="msg-1"),
        JobResult(jobs[1].id, JobState.PENDING, error_code="503", error_class="transient", retry_in=3600),
        JobResult(jobs[2].id, JobState.PENDING, retry_in=0, attempts_delta=-1),
        JobResult(
            jobs[3].id, JobState.REJECTED, error_code="422", error_class="recipient", error_message="bad"
        ),
    ]
    assert await store.record_results("someone-else", results) == 0
    assert await store.record_results("w1", results) == 4
    assert await store.record_results("w1", results) == 0  # no longer sending: nothing changes twice
    submitted, retried, throttled, rejected = [await store.get_job(j.id) for j in jobs]
    assert submitted and submitted.state == "submitted" and submitted.provider_id == "msg-1"
    assert submitted.submitted_at is not None and submitted.worker_id is None
    assert retried and retried.state == "pending" and retried.attempts == 1
    assert retried.next_attempt_at > retried.updated_at  # waits an hour: not claimable now
    assert throttled and throttled.state == "pending" and throttled.attempts == 0
    assert rejected and rejected.state == "rejected" and rejected.error_class == "recipient"
    again = await store.claim_jobs(campaign_id, "w1", 10, 30)
    assert [j.id for j in again] == [jobs[2].id]


async def test_release_returns_unsent_jobs_without_counting_an_attempt(store: Store) -> None:
    campaign_id = await make_campaign(store, 3)
    jobs = await store.claim_jobs(campaign_id, "w1", 3, 30)
    assert await store.release_jobs("w2", [j.id for j in jobs]) == 0
    assert await store.release_jobs("w1", [j.id for j in jobs]) == 3
    job = await store.get_job(jobs[0].id)
    assert job and job.state == "pending" and job.attempts == 0 and job.worker_id is None


async def test_stale_sending_jobs_are_those_of_dead_or_missing_workers_or_expired_leases(
    store: Store,
) -> None:
    campaign_id = await make_campaign(store, 6)
    await store.register_worker("alive", "h", 1)
    await store.register_worker("dead", "h", 2)
    mine = await store.claim_jobs(campaign_id, "alive", 2, 300)
    expired = await store.claim_jobs(campaign_id, "alive", 1, 0)
    orphaned = await store.claim_jobs(campaign_id, "gone", 1, 300)
    dead = await store.claim_jobs(campaign_id, "dead", 2, 300)
    await asyncio.sleep(0.01)  # lease of 0 s: expired as soon as the clock moves
    # "dead" last beat an hour ago, "alive" just now: a 60 s timeout tells them apart on any machine.
    async with store.db.pool.acquire() as conn:
        await conn.execute("UPDATE workers SET heartbeat_at = now() - interval '1 hour' WHERE id = 'dead'")
    await store.heartbeat("alive")
    stale = await store.stale_sending_jobs(campaign_id, 100, 60.0)
    stale_ids = {j.id for j in stale}
    assert {j.id for j in expired + orphaned} <= stale_ids
    assert stale_ids.isdisjoint(j.id for j in mine)  # alive worker, fresh lease
    assert {j.id for j in dead} <= stale_ids
    with_patience = await store.stale_sending_jobs(campaign_id, 100, 7200)
    assert {j.id for j in with_patience} == {j.id for j in expired + orphaned}


async def test_settle_reconciled_is_guarded_against_a_second_reconciler(store: Store) -> None:
    campaign_id = await make_campaign(store, 2)
    jobs = await store.claim_jobs(campaign_id, "gone", 2, 0)
    found, lost = jobs
    settlements = [
        Settlement(found.id, found.attempts, True, "p-1"),
        Settlement(lost.id, lost.attempts, False, None),
    ]
    assert await store.settle_reconciled(settlements) == 2
    assert await store.settle_reconciled(settlements) == 0  # the second reconciler changes nothing
    done = await store.get_job(found.id)
    back = await store.get_job(lost.id)
    assert done and done.state == "submitted" and done.provider_id == "p-1"
    assert back and back.state == "pending" and back.attempts == 1 and back.worker_id is None
    # Reclaimed since: a settlement made from the old sighting must not touch it.
    again = await store.claim_jobs(campaign_id, "w1", 1, 30)
    assert again[0].id == lost.id and again[0].attempts == 2
    assert await store.settle_reconciled([Settlement(lost.id, 1, False, None)]) == 0


async def test_a_receipt_is_applied_once_and_never_goes_backwards(store: Store) -> None:
    campaign_id = await make_campaign(store, 1)
    job = (await store.claim_jobs(campaign_id, "w1", 1, 30))[0]

    async def apply(status: str) -> str:
        [result] = await store.apply_receipts(
            "default", [FinalReceipt("p-9", status)], park_limit=10, park_max=10
        )
        return result.verdict

    assert await apply("delivered") == "parked"  # not submitted yet
    await store.record_results("w1", [JobResult(job.id, JobState.SUBMITTED, provider_id="p-9")])
    assert await store.apply_pending_receipts("default", 86_400) == (1, 0)
    assert await apply("delivered") == "duplicate"
    assert await apply("undelivered") == "duplicate"
    final = await store.get_job(job.id)
    assert final and final.state == "delivered" and final.finished_at is not None
    assert await store.count_pending_receipts() == 0


@pytest.mark.parametrize(
    ("path", "target"),
    [
        (["sending", "submitted"], "pending"),
        (["sending", "submitted"], "sending"),
        (["sending", "submitted", "delivered"], "undelivered"),
        ([], "submitted"),
        (["cancelled"], "pending"),
    ],
)
async def test_illegal_job_transitions_are_refused_by_the_database(
    store: Store, path: list[str], target: str
) -> None:
    campaign_id = await make_campaign(store, 1)
    job_id = (await store.claim_jobs(campaign_id, "w1", 1, 30))[0].id
    await store.release_jobs("w1", [job_id])
    for state in path:  # legal steps from pending
        await store.set_job_state(job_id, state)
    with pytest.raises(StateError, match="illegal job transition"):
        await store.set_job_state(job_id, target)
    job = await store.get_job(job_id)
    assert job and job.state == (path[-1] if path else "pending")


async def test_retry_rejected_puts_back_fixable_rejections_only(store: Store) -> None:
    campaign_id = await make_campaign(store, 3)
    jobs = await store.claim_jobs(campaign_id, "w1", 3, 30)
    await store.record_results(
        "w1",
        [
            JobResult(jobs[0].id, JobState.REJECTED, error_code="503", error_class="transient"),
            JobResult(jobs[1].id, JobState.REJECTED, error_code="21610", error_class="opt_out"),
            JobResult(jobs[2].id, JobState.SUBMITTED, provider_id="p"),
        ],
    )
    assert await store.retry_rejected(campaign_id, ["transient", "opt_out", "account"]) == 1
    states = [(await store.get_job(j.id)).state for j in jobs]  # type: ignore[union-attr]
    assert states == ["pending", "rejected", "submitted"]


async def test_a_claim_skips_the_jobs_of_suppressed_numbers_in_every_campaign(store: Store) -> None:
    first = await make_campaign(store, 3)
    second = await make_campaign(store, 3)  # same numbers
    [held] = await store.claim_jobs(first, "w1", 1, 30)
    assert await store.add_suppressions([held.e164, held.e164], "STOP", "inbound") == 1
    assert held.e164 in await store.suppressed_numbers()
    # Listing changes no job: the one already claimed is its dispatcher's to hold back.
    assert (await store.job_counts(first)) == {"sending": 1, "pending": 2}
    claimed = await store.claim_jobs(second, "w1", 3, 30)
    assert held.e164 not in [job.e164 for job in claimed] and len(claimed) == 2
    assert await store.job_counts(second) == {"sending": 2, "skipped": 1}
    [skipped] = [j for j in await jobs_of(store, second) if j["state"] == "skipped"]
    assert (skipped["e164"], skipped["error_code"], skipped["attempts"]) == (held.e164, "suppressed", 0)
    # Released (the dispatcher held it back), it is skipped by the next claim, not sent.
    assert await store.release_jobs("w1", [held.id]) == 1
    assert len(await store.claim_jobs(first, "w1", 3, 30)) == 2
    assert (await store.get_job(held.id)).state == "skipped"  # type: ignore[union-attr]


async def test_a_batch_of_only_suppressed_jobs_does_not_end_the_claims(store: Store) -> None:
    campaign_id = await make_campaign(store, 30)
    numbers = [j["e164"] for j in await jobs_of(store, campaign_id)]
    await store.add_suppressions(numbers[:25], "complaint", "manual")
    claimed = await store.claim_jobs(campaign_id, "w1", 10, 30)
    assert [job.e164 for job in claimed] == numbers[25:]
    assert await store.job_counts(campaign_id) == {"sending": 5, "skipped": 25}
    assert await store.claim_jobs(campaign_id, "w1", 10, 30) == []


async def test_a_long_run_of_suppressed_jobs_is_skipped_over_several_calls(store: Store) -> None:
    campaign_id = await make_campaign(store, 30)
    numbers = [j["e164"] for j in await jobs_of(store, campaign_id)]
    await store.add_suppressions(numbers[:-1], "complaint", "manual")
    assert CLAIM_PASSES * 2 < 29  # batches of 2: more all-skipped batches than one call goes through
    assert await store.claim_jobs(campaign_id, "w1", 2, 30) == []  # nothing to send yet
    assert (await store.job_counts(campaign_id))["skipped"] == CLAIM_PASSES * 2
    [last] = await store.claim_jobs(campaign_id, "w1", 2, 30)
    assert last.e164 == numbers[-1]
    assert await store.job_counts(campaign_id) == {"sending": 1, "skipped": 29}


async def test_the_loaded_cost_counters_equal_the_sum_of_the_stored_costs(store: Store) -> None:
    rows = [message(i + 2, f"+316{30_000_000 + i:08d}", "Hi", cost=Decimal("0.0012345")) for i in range(1000)]
    campaign_id = await store.create_campaign(
        NewCampaign(name="odd price", message="Hi"), [rows], lambda: CampaignTotals(1000, Decimal(0), {})
    )
    stored = sum((row["cost"] for row in await jobs_of(store, campaign_id)), Decimal(0))
    assert stored == Decimal("1.235000")  # each 0.0012345 stored as 0.001235
    assert (await store.job_totals(campaign_id))["pending"].cost == stored


async def test_what_the_provider_reports_is_kept_beside_the_estimate(store: Store) -> None:
    campaign_id = await make_campaign(store, 3)  # segments 1, 2, 1 at 0.008 each
    jobs = await store.claim_jobs(campaign_id, "w", 3, 60)
    results = [
        JobResult(jobs[0].id, JobState.SUBMITTED, "p1", reported_segments=1, reported_cost=Decimal("0.008")),
        JobResult(jobs[1].id, JobState.SUBMITTED, "p2", reported_segments=3, reported_cost=Decimal("0.024")),
        JobResult(jobs[2].id, JobState.SUBMITTED, "p3"),  # the provider did not say
    ]
    assert await store.record_results("w", results) == 3
    reported = await store.reported_costs(campaign_id)
    assert (reported.messages, reported.reported, reported.estimated, reported.more_segments) == (
        2,
        Decimal("0.032"),
        Decimal("0.024"),
        1,
    )
    exported = {
        r["id"]: (r["reported_segments"], r["reported_cost"]) for r in await jobs_of(store, campaign_id)
    }
    assert exported[jobs[1].id] == (3, Decimal("0.024")) and exported[jobs[2].id] == (None, None)
