"""Frequency caps and message expiry against the real sandbox and PostgreSQL (issue 16)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaigner.app.loading import CampaignSource, load_campaign
from campaigner.config import config_from_mapping
from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.model.jobs import FrequencyCap
from campaigner.model.states import CampaignState
from campaigner.store.store import Store
from tests.builders import PRICE, create_running_campaign, message, numbers
from tests.dispatch_helpers import API_KEY_ENV, run_campaign, runner_for, sandbox_config
from tests.fixtures.sandbox import MakeSandbox
from tests.store_helpers import jobs_of

CAP = {"compliance": {"frequency_cap": "1/24h"}}


@pytest.fixture(autouse=True)
def _sandbox_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "17|sandbox-full-access-key")


async def test_two_campaigns_at_once_send_each_capped_number_once(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    sandbox = await make_sandbox(requests_per_minute=6000, request_window=6.0, messages_per_second=400)
    config = sandbox_config(sandbox, dispatcher={"batch_size": 20, "concurrency": 4}, **CAP)
    recipients = numbers(200)
    first = await create_running_campaign(store, recipients, body="First {n}")
    second = await create_running_campaign(store, list(reversed(recipients)), body="Second {n}")

    reports = await asyncio.gather(
        run_campaign(store, config, first, within=60), run_campaign(store, config, second, within=60)
    )

    assert [r.state for r in reports] == ["completed", "completed"]
    figures = sandbox.state.snapshot(per_recipient=True)
    assert figures["duplicates"] == {}
    assert sorted(figures["per_recipient"]) == sorted(recipients)
    counts = [await store.job_counts(c) for c in (first, second)]
    assert sum(c.get("submitted", 0) for c in counts) == 200
    assert sum(c.get("skipped", 0) for c in counts) == 200
    skipped = [j for c in (first, second) for j in await jobs_of(store, c) if j["state"] == "skipped"]
    assert {j["error_code"] for j in skipped} == {"frequency_cap"}


async def test_a_released_claim_gives_its_slot_back(store: Store) -> None:
    cap = FrequencyCap(1, 86400.0)
    first = await create_running_campaign(store, numbers(3), body="First {n}")
    second = await create_running_campaign(store, numbers(3), body="Second {n}")

    claimed = await store.claim_jobs(first, "w1", 10, 60, cap)
    assert len(claimed) == 3
    assert await store.capped_numbers("default", cap) == set(numbers(3))
    # Released unsent (throttled, paused, shut down): nobody got a message, so the slots are free.
    await store.release_jobs("w1", [job.id for job in claimed])
    assert await store.capped_numbers("default", cap) == set()
    again = await store.claim_jobs(second, "w2", 10, 60, cap)
    assert sorted(job.e164 for job in again) == numbers(3)
    # ... and the first campaign's jobs, claimed again, are now the capped ones.
    assert await store.claim_jobs(first, "w1", 10, 60, cap) == []
    assert await store.job_counts(first) == {"skipped": 3}


async def test_a_cap_of_two_admits_two_campaigns_and_a_release_frees_only_its_slot(store: Store) -> None:
    # N > 1: a row holds several slots; the one given back is the released job's, no other.
    cap = FrequencyCap(2, 86400.0)
    one, two, three, four = [
        await create_running_campaign(store, numbers(3), body=f"{name} {{n}}")
        for name in ("One", "Two", "Three", "Four")
    ]
    first = await store.claim_jobs(one, "w1", 10, 60, cap)
    assert len(first) == 3 and await store.capped_numbers("default", cap) == set()
    assert len(await store.claim_jobs(two, "w2", 10, 60, cap)) == 3
    assert await store.capped_numbers("default", cap) == set(numbers(3))
    # The older slot (campaign one's) given back for one number: it has room again.
    await store.release_jobs("w1", [first[0].id])
    assert await store.capped_numbers("default", cap) == set(numbers(3)) - {first[0].e164}
    again = await store.claim_jobs(three, "w3", 10, 60, cap)
    assert [job.e164 for job in again] == [first[0].e164]
    assert await store.claim_jobs(four, "w4", 10, 60, cap) == []
    assert await store.job_counts(four) == {"skipped": 3}


async def test_a_capped_job_waits_for_its_window_when_told_to(store: Store) -> None:
    cap = FrequencyCap(1, 3600.0, wait=True)
    first = await create_running_campaign(store, numbers(2), body="First {n}")
    second = await create_running_campaign(store, numbers(2), body="Second {n}")
    assert len(await store.claim_jobs(first, "w1", 10, 60, cap)) == 2

    assert await store.claim_jobs(second, "w2", 10, 60, cap) == []

    waiting = await jobs_of(store, second)
    assert {j["state"] for j in waiting} == {"pending"}
    assert {j["error_code"] for j in waiting} == {"frequency_cap"}
    for row in waiting:
        job = await store.get_job(row["id"])
        assert job is not None
        due_in = job.next_attempt_at - datetime.now(UTC)
        assert timedelta(minutes=59) < due_in <= timedelta(hours=1)


async def test_the_cap_off_claims_every_number(store: Store) -> None:
    first = await create_running_campaign(store, numbers(3), body="First {n}")
    second = await create_running_campaign(store, numbers(3), body="Second {n}")
    assert len(await store.claim_jobs(first, "w1", 10, 60)) == 3
    assert len(await store.claim_jobs(second, "w2", 10, 60)) == 3


async def create_expiring_campaign(store: Store, recipients: list[str], valid_for: timedelta) -> int:
    rows = [message(i + 2, e164, f"Hello {i}") for i, e164 in enumerate(recipients)]
    spec = NewCampaign(name="expiring", message="Hello {n}", valid_for=valid_for)
    totals = CampaignTotals(total_jobs=len(rows), estimated_cost=PRICE * len(rows), preview={})
    campaign_id = await store.create_campaign(spec, [rows], lambda: totals)
    await store.resume_campaign(campaign_id)
    return campaign_id


async def test_jobs_not_sent_by_the_deadline_expire_and_none_is_sent_after_it(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    # 5 messages/s for 3 s: about 15 of 60 can be sent before the deadline.
    sandbox = await make_sandbox(requests_per_minute=300, request_window=6.0, messages_per_second=5)
    config = sandbox_config(sandbox)
    campaign_id = await create_expiring_campaign(store, numbers(60), timedelta(seconds=3))
    campaign = await store.get_campaign(campaign_id)
    assert campaign.valid_until is not None and campaign.started_at is not None
    assert campaign.valid_until == campaign.started_at + timedelta(seconds=3)

    report = await run_campaign(store, config, campaign_id, within=30)

    assert report.state == CampaignState.COMPLETED
    counts = await store.job_counts(campaign_id)
    assert set(counts) == {"submitted", "expired"}
    assert 5 <= counts["submitted"] <= 20
    assert counts["submitted"] + counts["expired"] == 60
    sent = sandbox.state.store.messages
    assert len(sent) == counts["submitted"]
    assert max(m.created_at for m in sent) < campaign.valid_until.timestamp()
    # Each message carried what was left of the validity (Cliqtel: no validity field; see the
    # Clickatell test) and every job that was not sent is final.
    assert {j["error_code"] for j in await jobs_of(store, campaign_id) if j["state"] == "expired"} == {
        "expired"
    }


async def test_the_provider_is_given_what_is_left_of_the_validity(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    sandbox = await make_sandbox(requests_per_minute=600, request_window=6.0, messages_per_second=50)
    config = sandbox_config(sandbox, provider_type="clickatell")
    campaign_id = await create_expiring_campaign(store, numbers(3), timedelta(minutes=30))

    async with runner_for(store, config, campaign_id) as runner:
        report = await asyncio.wait_for(runner.run(), 30)

    assert report.state == CampaignState.COMPLETED
    validities = {m.validity_seconds for m in sandbox.state.store.messages}
    # validityPeriod is in minutes: 29 (30 minutes less the moments the sending took).
    assert validities == {29 * 60}


async def test_the_preview_counts_the_numbers_at_their_cap_now(store: Store, tmp_path: Path) -> None:
    config = config_from_mapping(
        {"compliance": {"frequency_cap": "1/24h"}, "provider": {"messages_per_second": 1}}
    )
    recipients = numbers(4)
    first = await create_running_campaign(store, recipients[:3])
    assert len(await store.claim_jobs(first, "w1", 10, 60, FrequencyCap(1, 86400.0))) == 3
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("phone\n" + "\n".join(recipients) + "\n", encoding="utf-8")
    source = CampaignSource(
        recipients=csv_path, message="Hi", message_source="--message", valid_for=timedelta(seconds=2)
    )

    campaign_id, preview = await load_campaign(store, config, source)

    assert preview.sendable == 4 and preview.capped == 3
    assert preview.valid_for_seconds == 2.0 and preview.expiring == 2  # 4 messages at 1 msg/s
    campaign = await store.get_campaign(campaign_id)
    assert campaign.valid_for == timedelta(seconds=2) and campaign.valid_until is None
