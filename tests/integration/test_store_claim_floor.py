"""Claims that start after the worker's last claim (the floor), and counters sharded per connection."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import asyncpg
import pytest

from campaigner.errors import StateError
from campaigner.model.jobs import JobResult
from campaigner.model.states import JobState
from campaigner.store.store import Store
from tests.builders import make_campaign


async def test_a_job_this_worker_releases_is_the_first_it_claims_again(store: Store) -> None:
    campaign_id = await make_campaign(store, 30)
    first = await store.claim_jobs(campaign_id, "w1", 10, 30)
    await store.release_jobs("w1", [first[0].id])  # behind w1's floor: its floors are dropped
    again = await store.claim_jobs(campaign_id, "w1", 5, 30)
    assert again[0].id == first[0].id and [j.id for j in again[1:]] == [first[-1].id + n for n in range(1, 5)]


async def test_a_job_released_behind_the_floor_by_another_worker_is_claimed_at_the_next_rescan(
    store: Store, database_url: str
) -> None:
    campaign_id = await make_campaign(store, 40)
    early = await store.claim_jobs(campaign_id, "w2", 5, 30)
    await store.claim_jobs(campaign_id, "w1", 5, 30)  # w1's floor: after w2's jobs
    other = await Store.open_url(database_url, migrate=False)  # another process: w1's floor stays
    try:
        await other.release_jobs("w2", [j.id for j in early])
    finally:
        await other.close()
    after_floor = await store.claim_jobs(campaign_id, "w1", 5, 30)
    assert not {j.id for j in after_floor} & {j.id for j in early}
    for floor in store._claim_floors().values():  # FLOOR_RESCAN_SECONDS have passed
        floor.rescan_at = 0.0
    rescanned = await store.claim_jobs(campaign_id, "w1", 5, 30)
    assert sorted(j.id for j in rescanned) == sorted(j.id for j in early)


async def test_jobs_released_behind_the_floor_are_claimed_when_nothing_is_left_after_it(
    store: Store, database_url: str
) -> None:
    campaign_id = await make_campaign(store, 20)
    early = await store.claim_jobs(campaign_id, "w2", 5, 30)
    late = await store.claim_jobs(campaign_id, "w1", 15, 30)  # w1's floor: the last job
    other = await Store.open_url(database_url, migrate=False)
    try:
        await other.release_jobs("w2", [j.id for j in early])
    finally:
        await other.close()
    assert len(late) == 15
    got = await store.claim_jobs(campaign_id, "w1", 10, 30)  # nothing after the floor: from the start
    assert sorted(j.id for j in got) == sorted(j.id for j in early)


async def test_a_retried_job_goes_back_to_the_queue_and_is_claimed_again(store: Store) -> None:
    campaign_id = await make_campaign(store, 5)
    jobs = await store.claim_jobs(campaign_id, "w1", 5, 30)
    results = [JobResult(jobs[0].id, JobState.PENDING, retry_in=0)]
    results += [JobResult(j.id, JobState.SUBMITTED, provider_id=f"p{j.id}") for j in jobs[1:]]
    await store.record_results("w1", results)
    again = await store.claim_jobs(campaign_id, "w1", 5, 30)
    assert [j.id for j in again] == [jobs[0].id] and again[0].attempts == 2


async def test_counts_stay_exact_with_claimers_on_many_connections(store: Store, database_url: str) -> None:
    campaign_id = await make_campaign(store, 600)
    stores = [await Store.open_url(database_url, migrate=False, max_size=2) for _ in range(3)]
    try:

        async def drain(worker: Store, name: str) -> int:
            done = 0
            while jobs := await worker.claim_jobs(campaign_id, name, 13, 30):
                results = [JobResult(j.id, JobState.SUBMITTED, provider_id=f"p{j.id}") for j in jobs]
                done += await worker.record_results(name, results)
            return done

        done = await asyncio.gather(*(drain(s, f"w{n}") for n, s in enumerate(stores)))
    finally:
        for opened in stores:
            await opened.close()
    assert sum(done) == 600
    assert await store.job_counts(campaign_id) == {"submitted": 600}
    assert (await store.job_totals(campaign_id))["submitted"].cost == Decimal(
        "7.2"
    )  # 300 x 0.008 + 300 x 0.016
    conn = await asyncpg.connect(database_url)
    try:
        shards = await conn.fetchval(
            "SELECT count(DISTINCT shard) FROM job_counts WHERE campaign_id = $1 AND state = 'submitted'",
            campaign_id,
        )
    finally:
        await conn.close()
    assert shards >= 2  # the claimers wrote to shards of their own connections


async def test_an_illegal_transition_raises_and_moves_no_counter(store: Store) -> None:
    campaign_id = await make_campaign(store, 3)
    jobs = await store.claim_jobs(campaign_id, "w1", 1, 30)
    await store.record_results("w1", [JobResult(jobs[0].id, JobState.SUBMITTED, provider_id="p1")])
    with pytest.raises(StateError, match="illegal job transition submitted -> pending"):
        await store.set_job_state(jobs[0].id, "pending")
    assert await store.job_counts(campaign_id) == {"pending": 2, "submitted": 1}
