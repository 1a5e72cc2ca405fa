"""The campaign side of the store: loading by COPY, the campaign state machine, counters, queries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal

import asyncpg
import pytest

from campaigner.errors import InputFileError, NotFoundError, StateError
from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.model.jobs import JobResult, PlannedMessage
from campaigner.model.states import CAMPAIGN_TRANSITIONS, JobState
from campaigner.store.database import queries
from campaigner.store.store import Store
from tests.builders import make_campaign, planned


async def test_every_named_query_prepares(store: Store) -> None:
    async with store.db.pool.acquire() as conn:
        for query in queries().values():
            await conn.prepare(query.sql)
    assert all(query.doc for query in queries().values()), "every query says what it serves"


async def test_copy_loads_100000_jobs_with_counters_and_totals(store: Store) -> None:
    campaign_id = await make_campaign(store, 100_000, state="draft")
    campaign = await store.get_campaign(campaign_id)
    assert campaign.state == "draft" and campaign.total_jobs == 100_000
    assert campaign.preview == {"sendable": 100_000}
    totals = await store.job_totals(campaign_id)
    assert totals["pending"].jobs == 100_000
    assert totals["pending"].cost == campaign.estimated_cost == Decimal("1200.000000")


async def test_a_bad_row_half_way_leaves_no_campaign_behind(store: Store) -> None:
    def batches() -> Iterator[list[PlannedMessage]]:
        yield from planned(5000)
        raise InputFileError("recipients.csv: line 5002: column phone: not a number")

    with pytest.raises(InputFileError, match="line 5002"):
        await store.create_campaign(
            NewCampaign(name="broken", message="x"), batches(), lambda: CampaignTotals(0, Decimal(0), {})
        )
    assert await store.list_campaigns() == []
    async with store.db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM jobs") == 0
        assert await conn.fetchval("SELECT count(*) FROM job_counts") == 0
    # The pool is still usable after the aborted COPY.
    assert await make_campaign(store, 3) > 0


async def test_campaign_state_machine_refuses_illegal_changes(store: Store) -> None:
    campaign_id = await make_campaign(store, 1, state="draft")
    with pytest.raises(StateError, match="draft: it cannot become completed"):
        await store.set_campaign_state(campaign_id, "completed")
    await store.set_campaign_state(campaign_id, "running")
    await store.cancel_campaign(campaign_id)
    for target in CAMPAIGN_TRANSITIONS:
        with pytest.raises(StateError):
            await store.set_campaign_state(campaign_id, target)
    with pytest.raises(NotFoundError):
        await store.set_campaign_state(999_999, "running")


async def test_the_trigger_refuses_what_python_would_not_ask(store: Store) -> None:
    campaign_id = await make_campaign(store, 1, state="draft")
    async with store.db.pool.acquire() as conn:
        with pytest.raises(asyncpg.PostgresError, match="illegal campaign transition draft -> completed"):
            await conn.execute("UPDATE campaigns SET state = 'completed' WHERE id = $1", campaign_id)


async def test_pause_resume_and_timestamps(store: Store) -> None:
    campaign_id = await make_campaign(store, 2, state="draft")
    running = await store.resume_campaign(campaign_id)
    assert running.state == "running" and running.started_at is not None
    paused = await store.pause_campaign(campaign_id, "funds: insufficient balance")
    assert paused.state == "paused" and paused.reason == "funds: insufficient balance"
    assert (await store.pause_campaign(campaign_id, "again")).reason == "funds: insufficient balance"
    resumed = await store.resume_campaign(campaign_id)
    assert resumed.state == "running" and resumed.reason is None and resumed.started_at == running.started_at


async def test_resume_of_a_completed_campaign_is_a_clear_error(store: Store) -> None:
    campaign_id = await make_campaign(store, 1)
    job = (await store.claim_jobs(campaign_id, "w", 1, 30))[0]
    assert not await store.complete_campaign_if_done(campaign_id)  # one job still sending
    await store.record_results("w", [JobResult(job.id, JobState.SUBMITTED, provider_id="p")])
    assert await store.complete_campaign_if_done(campaign_id)
    campaign = await store.get_campaign(campaign_id)
    assert campaign.state == "completed" and campaign.finished_at is not None
    with pytest.raises(StateError, match="completed: only a paused or draft campaign can be resumed"):
        await store.resume_campaign(campaign_id)


async def test_cancel_cancels_only_unsent_jobs(store: Store) -> None:
    campaign_id = await make_campaign(store, 10)
    jobs = await store.claim_jobs(campaign_id, "w", 3, 30)
    await store.record_results("w", [JobResult(jobs[0].id, JobState.SUBMITTED, provider_id="p")])
    assert await store.cancel_campaign(campaign_id) == 7
    assert await store.job_counts(campaign_id) == {"cancelled": 7, "sending": 2, "submitted": 1}
    assert await store.cost_so_far(campaign_id) == (await store.job_totals(campaign_id))["submitted"].cost
    with pytest.raises(StateError, match="cancelled: it cannot be cancelled"):
        await store.cancel_campaign(campaign_id)


async def test_state_changes_are_notified(store: Store, database_url: str) -> None:
    campaign_id = await make_campaign(store, 1, state="draft")
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database_url)
    try:
        await listener.add_listener("campaigner_campaigns", lambda *args: heard.put_nowait(args[3]))
        await store.set_campaign_state(campaign_id, "running")
        await store.pause_campaign(campaign_id, "by hand")
        assert await asyncio.wait_for(heard.get(), 5) == str(campaign_id)
        assert await asyncio.wait_for(heard.get(), 5) == str(campaign_id)
    finally:
        await listener.close()


async def test_scheduled_campaigns_become_due(store: Store) -> None:
    async with store.db.pool.acquire() as conn:
        now = await conn.fetchval("SELECT now()")
    due = await store.create_campaign(
        NewCampaign(name="due", message="x", send_at=now),
        planned(1),
        lambda: CampaignTotals(1, Decimal(0), {}),
        scheduled=True,
    )
    await store.create_campaign(
        NewCampaign(name="later", message="x", send_at=now.replace(year=now.year + 1)),
        planned(1),
        lambda: CampaignTotals(1, Decimal(0), {}),
        scheduled=True,
    )
    assert await store.due_scheduled_campaigns() == [due]
    assert (await store.resume_campaign(due)).state == "scheduled"  # stays scheduled until started
    await store.set_campaign_state(due, "running")
    assert await store.running_campaign_ids() == [due]


async def test_workers_register_heartbeat_and_die(store: Store) -> None:
    await store.register_worker("w1", "host", 42)
    assert await store.heartbeat("w1")
    assert await store.dead_workers(3600) == []
    await asyncio.sleep(0.01)
    assert [w.id for w in await store.dead_workers(0.001)] == ["w1"]
    await store.unregister_worker("w1")
    assert not await store.heartbeat("w1")


async def test_shared_schedule_paces_every_caller(store: Store) -> None:
    keys = ["acct:messages", "acct:requests"]
    first = await store.reserve_start(keys, [0.5, 1.0])
    assert abs(first - time.time()) < 1.0
    # The next start waits for the slower of the two schedules.
    assert await store.reserve_start(keys, [0.5, 1.0]) == pytest.approx(first + 1.0, abs=0.001)
    await store.push_schedule("acct:requests", 30.0)
    assert await store.reserve_start(keys, [0.5, 1.0]) == pytest.approx(time.time() + 30.0, abs=1.0)


async def test_several_accounts_reserve_in_one_statement_as_each_would_alone(store: Store) -> None:
    a, b = ["a:messages", "a:requests"], ["b:messages", "b:requests"]
    await store.reserve_start(a, [0.5, 2.0])  # account a has a schedule; b's is new
    first_a, first_b = await store.reserve_starts([(a, [0.5, 1.0], 0.0), (b, [0.25, 0.25], 0.0)])
    assert abs(first_b - time.time()) < 1.0  # a new schedule starts now, and is created
    # a waited for its slower schedule (2 s from its first reservation); each moved on its own.
    second_a, second_b = await store.reserve_starts([(a, [0.5, 1.0], 0.0), (b, [0.25, 0.25], 0.0)])
    assert second_a == pytest.approx(first_a + 1.0, abs=0.001)
    assert second_b == pytest.approx(first_b + 0.25, abs=0.001)
    assert await store.reserve_start(b, [0.25, 0.25]) == pytest.approx(first_b + 0.5, abs=0.001)


async def test_an_idle_schedule_starts_after_its_idle_delay_and_a_busy_one_at_its_turn(store: Store) -> None:
    a, b = ["a:messages", "a:requests"], ["b:messages", "b:requests"]
    await store.reserve_start(a, [0.1, 0.1])  # both exist; a is idle again at once, b is booked 10 s
    await store.reserve_start(b, [10.0, 10.0])
    asked = time.time()
    first_a = await store.reserve_start(a, [0.1, 0.1], idle_delay=0.5)
    assert asked + 0.5 <= first_a < time.time() + 0.5
    # b's turn comes 10 s after its first start, well after now + its idle delay: the delay is void.
    [second_a, first_b] = await store.reserve_starts([(a, [0.1, 0.1], 0.5), (b, [0.1, 0.1], 0.5)])
    assert second_a == pytest.approx(first_a + 0.1, abs=0.001)  # a is busy now: no delay either
    assert first_b > asked + 9.0


async def test_last_errors_and_list_campaigns(store: Store) -> None:
    campaign_id = await make_campaign(store, 3)
    jobs = await store.claim_jobs(campaign_id, "w", 3, 30)
    await store.record_results(
        "w",
        [
            JobResult(
                j.id, JobState.REJECTED, error_code="422", error_class="recipient", error_message="bad to"
            )
            for j in jobs[:2]
        ]
        + [JobResult(jobs[2].id, JobState.SUBMITTED, provider_id="p")],
    )
    errors = await store.last_errors(campaign_id)
    assert [(e.error_code, e.jobs) for e in errors] == [("422", 2)]
    (summary,) = await store.list_campaigns()
    assert summary.counts == {"rejected": 2, "submitted": 1} and summary.cost_so_far > 0
