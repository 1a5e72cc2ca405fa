"""The facts every view shows, read from a real database as a dispatcher and receipts move jobs."""

from __future__ import annotations

import json
from datetime import time

from campaigner.config import config_from_mapping
from campaigner.model.jobs import JobResult
from campaigner.model.states import CampaignState, JobState
from campaigner.observe.facts import all_live_facts, campaign_facts, live_facts
from campaigner.store.observe import LATENCY_BOUNDS
from campaigner.store.store import Store
from tests.builders import make_campaign

CONFIG = config_from_mapping(
    {"provider": {"requests_per_minute": 600, "messages_per_second": 5}}, source="<test>"
)


async def _advance(store: Store, campaign_id: int) -> list[int]:
    """Claim 6 of the campaign's jobs: 4 accepted (3 then delivered after 4 s), 1 rejected, 1 held."""
    jobs = await store.claim_jobs(campaign_id, "w1", 6, 30)
    ids = [job.id for job in jobs]
    results = [JobResult(i, JobState.SUBMITTED, provider_id=f"p{i}") for i in ids[:4]]
    results.append(
        JobResult(
            ids[4], JobState.REJECTED, error_code="21211", error_message="bad number", error_class="recipient"
        )
    )
    await store.record_results("w1", results)
    await store.db.pool.execute(
        "UPDATE jobs SET state = 'delivered', finished_at = submitted_at + interval '4 seconds' "
        "WHERE id = ANY ($1::bigint[])",
        ids[:3],
    )
    return ids


async def test_live_facts_count_rate_workers_and_eta(store: Store) -> None:
    campaign_id = await make_campaign(store, 10)
    await store.register_worker("w1", "host-a", 123)
    await _advance(store, campaign_id)

    live = await live_facts(store, CONFIG, campaign_id, timeline_minutes=60)

    assert live.counts[JobState.DELIVERED] == 3
    assert live.counts[JobState.SUBMITTED] == 1
    assert live.counts[JobState.REJECTED] == 1
    assert live.counts[JobState.SENDING] == 1
    assert live.counts[JobState.PENDING] == 4
    assert (live.total, live.done, live.left) == (10, 5, 5)
    assert live.progress == 0.5
    # 5 jobs left the queue (4 accepted, 1 rejected) just now: a recent rate above 0, an ETA.
    assert live.rate > 0
    assert live.eta_seconds is not None and live.eta_seconds >= 5 / 5  # never faster than 5 msg/s
    assert live.rate_limit == 5.0
    assert [w.id for w in live.workers.live] == ["w1"]
    assert live.workers.live[0].holds_jobs  # it holds the one job still in sending
    assert live.workers.note is None
    assert live.wait is None
    assert live.timeline is not None
    arrived = {p.state: p.jobs for p in live.timeline}
    assert arrived["delivered"] == 3 and arrived["rejected"] == 1 and arrived["sending"] == 6
    json.dumps(live.to_json())  # JSON-able as it is


async def test_no_live_worker_is_the_wait_reason_and_there_is_no_eta_without_sending(store: Store) -> None:
    campaign_id = await make_campaign(store, 5)

    live = await live_facts(store, CONFIG, campaign_id)

    assert live.state == CampaignState.RUNNING
    assert live.rate == 0
    assert live.eta_seconds is None
    assert live.wait is not None and live.wait.code == "no_worker"
    assert "no live worker: start `campaigner daemon`" in live.wait.text
    assert live.workers.note == live.wait.text


async def test_wait_reasons_for_paused_scheduled_and_quiet_hours(store: Store) -> None:
    paused = await make_campaign(store, 3, state="paused")
    facts = await live_facts(store, CONFIG, paused)
    assert facts.wait is not None and facts.wait.code == "paused" and "test" in facts.wait.text

    quiet = await make_campaign(store, 3)
    await store.register_worker("w1", "host-a", 1)
    await store.db.pool.execute(
        "UPDATE campaigns SET quiet_start = '09:00', quiet_end = '10:00' WHERE id = $1", quiet
    )
    await store.db.pool.execute(
        "UPDATE jobs SET next_attempt_at = now() + interval '2 hours' WHERE campaign_id = $1", quiet
    )
    facts = await live_facts(store, CONFIG, quiet)
    assert facts.wait is not None and facts.wait.code == "quiet_hours"
    assert "09:00-10:00" in facts.wait.text

    await store.db.pool.execute("UPDATE jobs SET next_attempt_at = now() WHERE campaign_id = $1", quiet)
    await store.push_schedule("default:requests", 120)
    facts = await live_facts(store, CONFIG, quiet)
    assert facts.wait is not None and facts.wait.code == "rate_schedule"


async def test_campaign_facts_per_country_errors_latency_and_sample(store: Store) -> None:
    campaign_id = await make_campaign(store, 10)
    await _advance(store, campaign_id)
    await store.db.pool.execute(
        "UPDATE campaigns SET sender = 'ACME', quiet_start = '09:00', quiet_end = '21:00' WHERE id = $1",
        campaign_id,
    )

    facts = await campaign_facts(store, CONFIG, campaign_id)

    [nl] = facts.countries
    assert (nl.country, nl.sent, nl.delivered, nl.undelivered, nl.rejected) == ("NL", 4, 3, 0, 1)
    assert nl.cost > 0
    [error] = facts.errors
    assert (error.code, error.jobs, error.state) == ("21211", 1, "rejected")
    assert facts.latency.delivered == 3
    # 4 s falls in the [3, 5) bucket: every percentile says so.
    for p in (facts.latency.p50, facts.latency.p95, facts.latency.p99):
        assert p is not None and 3 <= p <= 5
    assert facts.sample is not None and facts.sample.body.startswith("Hello ")
    assert facts.quiet_hours == (time(9), time(21))
    out = facts.to_json()
    assert out["sender"] == "ACME"
    assert out["quiet_hours"] == {"start": "09:00", "end": "21:00"}
    assert out["last_errors"][0]["code"] == "21211"
    assert isinstance(out["cost_so_far"], float) and isinstance(out["counts"]["delivered"], int)
    assert json.loads(json.dumps(out)) == out
    assert {(p["state"]) for p in out["timeline"]} >= {"sending", "submitted", "delivered", "rejected"}


async def test_the_live_facts_of_every_campaign_come_in_one_query(store: Store) -> None:
    ids = [await make_campaign(store, 3, state=s) for s in ("draft", "running", "paused")]

    calls = 0
    original = store.db.all

    async def counting(name: str, *args: object) -> object:
        nonlocal calls
        calls += 1
        return await original(name, *args)

    store.db.all = counting  # type: ignore[method-assign,assignment]
    facts = await all_live_facts(store, CONFIG)

    assert calls == 1
    assert [f.id for f in facts] == ids
    assert [f.wait.code if f.wait else None for f in facts] == ["draft", "no_worker", "paused"]


async def test_latency_bounds_match_the_migration(store: Store) -> None:
    # campaigner_latency_bucket (0012) and LATENCY_BOUNDS must put every latency in the same bucket.
    for i, low in enumerate(LATENCY_BOUNDS):
        assert await store.db.pool.fetchval("SELECT campaigner_latency_bucket($1)", float(low)) == i + 1
    assert await store.db.pool.fetchval("SELECT campaigner_latency_bucket(-1)") == 0
