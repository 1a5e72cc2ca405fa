"""The dispatcher against the real sandbox and PostgreSQL: limits held, every recipient exactly once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from campaigner.sandbox import RunningSandbox
from campaigner.store.store import Store
from tests.builders import create_running_campaign, numbers
from tests.dispatch_helpers import (
    API_KEY_ENV,
    run_campaign,
    runner_for,
    sandbox_config,
    wait_for,
)
from tests.fixtures.sandbox import MakeSandbox


@pytest.fixture(autouse=True)
def _sandbox_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "17|sandbox-full-access-key")


def stats(sandbox: RunningSandbox) -> dict[str, Any]:
    return sandbox.state.snapshot(per_recipient=True)


async def test_every_recipient_once_within_every_window_at_the_ceiling(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    # 20 requests/s (100 per 5 s window) and 20 messages/s: a ceiling of 20 msg/s, one per request.
    sandbox = await make_sandbox(requests_per_minute=100, request_window=5.0, messages_per_second=20)
    config = sandbox_config(sandbox)
    recipients = numbers(150)
    campaign_id = await create_running_campaign(store, recipients)

    began = time.monotonic()
    report = await run_campaign(store, config, campaign_id)
    elapsed = time.monotonic() - began

    assert report.state == "completed"
    assert await store.job_counts(campaign_id) == {"submitted": 150}
    figures = stats(sandbox)
    assert figures["duplicates"] == {}
    assert sorted(figures["per_recipient"]) == sorted(recipients)
    assert figures["rate_limits"]["requests"]["violations"] == 0
    assert figures["rate_limits"]["messages"]["violations"] == 0
    assert figures["rate_limits"]["messages"]["max_in_window"] <= 20
    # 150 messages at 20/s is 7.5 s of sending; start-up and completion add a little.
    achieved = 150 / elapsed
    assert achieved >= 0.85 * 20, f"achieved {achieved:.1f} msg/s of a 20 msg/s ceiling"


async def test_batched_requests_hold_both_limits(store: Store, make_sandbox: MakeSandbox) -> None:
    # Clickatell batches: 10 requests/s and 40 messages/s; one text for all, so requests carry many.
    sandbox = await make_sandbox(requests_per_minute=60, request_window=6.0, messages_per_second=40)
    config = sandbox_config(sandbox, provider_type="clickatell", provider={"recipients_per_request": 20})
    recipients = numbers(200)
    campaign_id = await create_running_campaign(store, recipients, body="Same text for everyone")

    report = await run_campaign(store, config, campaign_id)

    assert report.state == "completed"
    assert report.requests < 50, "a batch request should carry several recipients"
    figures = stats(sandbox)
    assert figures["duplicates"] == {}
    assert figures["accepted_messages"] == 200
    assert figures["rate_limits"]["messages"]["violations"] == 0
    assert figures["rate_limits"]["requests"]["violations"] == 0


async def test_lost_replies_are_reconciled_not_resent(store: Store, make_sandbox: MakeSandbox) -> None:
    sandbox = await make_sandbox(
        requests_per_minute=600, request_window=6.0, messages_per_second=100, reply_lost_rate=0.3
    )
    config = sandbox_config(sandbox)
    recipients = numbers(80)
    campaign_id = await create_running_campaign(store, recipients)

    report = await run_campaign(store, config, campaign_id)

    assert report.state == "completed"
    assert report.reconciled.get("found", 0) > 0, "some replies were lost and found by lookup"
    figures = stats(sandbox)
    assert figures["duplicates"] == {}
    assert sorted(figures["per_recipient"]) == sorted(recipients)
    assert await store.job_counts(campaign_id) == {"submitted": 80}


async def test_server_errors_after_the_message_was_stored_send_nothing_twice(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    # 10 % answered 502 and 5 % answered 500 after storing the message: a retry would be a duplicate.
    sandbox = await make_sandbox(
        requests_per_minute=600, request_window=6.0, messages_per_second=100,
        bad_gateway_after_rate=0.10, error_after_rate=0.05,
    )  # fmt: skip
    config = sandbox_config(sandbox)
    campaign_id = await create_running_campaign(store, numbers(120))
    report = await run_campaign(store, config, campaign_id)
    assert report.state == "completed"
    assert await store.job_counts(campaign_id) == {"submitted": 120}
    snapshot = stats(sandbox)
    assert snapshot["duplicates"] == {} and snapshot["accepted_messages"] == 120
    assert snapshot["faults"].get("502_after", 0) > 0 and report.reconciled.get("found", 0) > 0


async def test_transient_errors_are_retried(store: Store, make_sandbox: MakeSandbox) -> None:
    sandbox = await make_sandbox(
        requests_per_minute=600, request_window=6.0, messages_per_second=100, fault_503_rate=0.3
    )
    config = sandbox_config(sandbox, dispatcher={"backoff_base": 1.2, "backoff_max": 0.5, "max_attempts": 10})
    recipients = numbers(60)
    campaign_id = await create_running_campaign(store, recipients)

    report = await run_campaign(store, config, campaign_id)

    assert report.state == "completed"
    assert report.retried > 0
    assert stats(sandbox)["duplicates"] == {}
    assert await store.job_counts(campaign_id) == {"submitted": 60}


async def test_funds_running_out_pauses_with_the_reason_and_resume_finishes(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    # 0.1 EUR buys 12 messages at 0.008.
    sandbox = await make_sandbox(
        requests_per_minute=600, request_window=6.0, messages_per_second=100, balance=0.1
    )
    config = sandbox_config(sandbox)
    campaign_id = await create_running_campaign(store, numbers(30))

    report = await run_campaign(store, config, campaign_id)

    assert report.state == "paused"
    assert report.reason is not None and "funds" in report.reason
    campaign = await store.get_campaign(campaign_id)
    assert campaign.state == "paused" and "funds" in (campaign.reason or "")
    counts = await store.job_counts(campaign_id)
    assert counts.get("submitted") == 12 and counts.get("sending", 0) == 0

    sandbox.state.configure({"balance": 10.0})
    await store.resume_campaign(campaign_id)
    report = await run_campaign(store, config, campaign_id)
    assert report.state == "completed"
    assert await store.job_counts(campaign_id) == {"submitted": 30}
    assert stats(sandbox)["duplicates"] == {}


async def test_pause_and_cancel_from_elsewhere_stop_within_a_second(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    sandbox = await make_sandbox(requests_per_minute=60, request_window=6.0, messages_per_second=10)
    config = sandbox_config(sandbox)
    campaign_id = await create_running_campaign(store, numbers(200))

    async with runner_for(store, config, campaign_id) as runner:
        task = asyncio.create_task(runner.run())

        async def some_sent() -> bool:
            return (await store.job_counts(campaign_id)).get("submitted", 0) >= 5

        await wait_for(some_sent, 20, "the first sends")
        await store.pause_campaign(campaign_id, "operator asked")
        paused_at = time.monotonic()
        report = await asyncio.wait_for(task, 10)
        assert time.monotonic() - paused_at < 1.5
    assert report.state == "paused"
    counts = await store.job_counts(campaign_id)
    assert counts.get("sending", 0) == 0, "claimed jobs are released on stop"
    sent_at_pause = counts.get("submitted", 0)

    cancelled = await store.cancel_campaign(campaign_id)
    assert cancelled == 200 - sent_at_pause
    assert stats(sandbox)["accepted_messages"] == sent_at_pause


async def test_a_cancel_during_sends_leaves_nothing_sending_and_records_what_was_sent(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    # Replies lost after the message was stored, and slow replies: at the cancel, requests are in
    # flight and ambiguous sends wait for their lookups. None of them may be left `sending`.
    sandbox = await make_sandbox(
        requests_per_minute=600, request_window=6.0, messages_per_second=100,
        reply_lost_rate=0.3, slow_rate=0.3, slow_seconds=0.5,
    )  # fmt: skip
    config = sandbox_config(sandbox)
    campaign_id = await create_running_campaign(store, numbers(300))
    async with runner_for(store, config, campaign_id) as runner:
        task = asyncio.create_task(runner.run())

        async def some_unsure() -> bool:
            counts = await store.job_counts(campaign_id)
            lost = stats(sandbox)["faults"].get("reply_lost", 0)
            return counts.get("submitted", 0) >= 10 and lost >= 1

        await wait_for(some_unsure, 30, "sends and at least one lost reply")
        await store.cancel_campaign(campaign_id)
        report = await asyncio.wait_for(task, 30)
    assert report.state == "cancelled"
    counts = await store.job_counts(campaign_id)
    assert counts.get("sending", 0) == 0
    accepted = stats(sandbox)["accepted_messages"]
    assert counts.get("submitted", 0) == accepted  # every message the provider has is recorded
    assert counts.get("submitted", 0) + counts.get("cancelled", 0) == 300
    assert stats(sandbox)["duplicates"] == {}


async def test_lower_real_limit_settles_below_it(store: Store, make_sandbox: MakeSandbox) -> None:
    # The provider allows 10 requests/s; we were told 20.
    sandbox = await make_sandbox(requests_per_minute=60, request_window=6.0, messages_per_second=100)
    config = sandbox_config(sandbox, provider={"requests_per_minute": 1200})
    assert config.provider.request_window == 6.0
    campaign_id = await create_running_campaign(store, numbers(100))

    began = time.monotonic()
    report = await run_campaign(store, config, campaign_id)
    elapsed = time.monotonic() - began

    assert report.state == "completed"
    assert report.throttled <= 3, f"{report.throttled} 429s: the rate should settle, not keep hitting"
    assert stats(sandbox)["duplicates"] == {}
    assert 100 / elapsed >= 0.8 * 10


async def test_quiet_hours_hold_back_recipients_outside_their_window(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from campaigner.model.campaigns import CampaignTotals, NewCampaign
    from tests.builders import message

    sandbox = await make_sandbox(requests_per_minute=600, request_window=6.0, messages_per_second=100)
    config = sandbox_config(sandbox)
    # A window around New York's local time now, which Amsterdam (six hours ahead) is outside of.
    new_york = datetime.now(UTC).astimezone(ZoneInfo("America/New_York"))
    start, end = (new_york - timedelta(hours=1)).time(), (new_york + timedelta(hours=1)).time()
    dutch, american = numbers(5), [f"+1212555{1000 + i}" for i in range(5)]
    rows = [message(i + 2, n, f"Hi {i}", country=None) for i, n in enumerate(dutch + american)]
    spec = NewCampaign(name="window", message="Hi", quiet_start=start.replace(microsecond=0), quiet_end=end)
    campaign_id = await store.create_campaign(spec, [rows], lambda: CampaignTotals(10, 0.08, {}))  # type: ignore[arg-type]
    await store.resume_campaign(campaign_id)

    async with runner_for(store, config, campaign_id) as runner:
        task = asyncio.create_task(runner.run())

        async def americans_sent() -> bool:
            return (await store.job_counts(campaign_id)).get("submitted", 0) == 5

        await wait_for(americans_sent, 20, "the New York recipients")
        runner.stop()
        await asyncio.wait_for(task, 10)

    assert sorted(stats(sandbox)["per_recipient"]) == sorted(american)
    assert await store.job_counts(campaign_id) == {"submitted": 5, "pending": 5}
    held = [job for job in [await store.get_job(i) for i in range(1, 11)] if job and job.e164 in dutch]
    assert len(held) == 5
    for job in held:
        assert job.attempts == 0, "waiting for the window is not an attempt"
        assert job.next_attempt_at > datetime.now(UTC) + timedelta(hours=3)


async def test_losing_the_database_ends_the_run_with_its_error(
    database_url: str, make_sandbox: MakeSandbox
) -> None:
    from campaigner.errors import DatabaseError
    from tests.fixtures.db import refusable_role

    async with refusable_role(database_url) as role:
        store = await Store.open_url(role.url, migrate=False)
        sandbox = await make_sandbox(requests_per_minute=60, request_window=6.0, messages_per_second=10)
        config = sandbox_config(sandbox)
        campaign_id = await create_running_campaign(store, numbers(100))
        try:
            async with runner_for(store, config, campaign_id) as runner:
                task = asyncio.create_task(runner.run())

                async def some_sent() -> bool:
                    return (await store.job_counts(campaign_id)).get("submitted", 0) >= 3

                await wait_for(some_sent, 20, "the first sends")
                await role.refuse()
                with pytest.raises(DatabaseError):
                    await asyncio.wait_for(task, 20)
        finally:
            await store.close()
