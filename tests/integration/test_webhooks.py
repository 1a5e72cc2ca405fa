"""The daemon's HTTP app on a real port, with the real sandbox calling back and the real PostgreSQL.

Receipts move jobs to delivered/undelivered (including those that arrive before the job's result is
written), forged/altered/unsigned callbacks change nothing, duplicates and late `sent` events never
move a job backwards, and an inbound STOP stops later sends to that number in a running campaign.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from campaigner.app.wiring import status_callback_url
from campaigner.config import Config, Secret
from campaigner.dispatch.runner import CampaignRunner, RunReport
from campaigner.dispatch.throttle import Limits, Throttle
from campaigner.dispatch.worker import Worker
from campaigner.inbound.receipts import apply_pending_receipts
from campaigner.model.jobs import JobResult
from campaigner.model.states import JobState
from campaigner.providers.base import Capabilities, Provider
from campaigner.providers.registry import make_provider
from campaigner.providers.webhooks import sign
from campaigner.sandbox import RunningSandbox
from campaigner.store.store import Store
from tests.builders import create_running_campaign, numbers
from tests.dispatch_helpers import API_KEY_ENV, WEBHOOK_SECRET_ENV, sandbox_config, wait_for
from tests.fixtures.sandbox import MakeSandbox
from tests.http_helpers import Client, serving

SECRET = "test-webhook-secret-123"
# The sandbox's Clickatell callbacks are form-encoded and unsigned by default, as Clickatell sends
# them; these tests ask for the JSON shape and the signature extension, which the client reads.
STATUS = "/webhooks/cliqtel/status"
INBOUND = "/webhooks/cliqtel/inbound"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "17|sandbox-full-access-key")
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, SECRET)
    monkeypatch.setenv("CLICKATELL_CALLBACK_TOKEN", SECRET)  # Clickatell's callbacks: ?token=


def base_url(client: Client) -> str:
    return str(client.make_url("")).rstrip("/")


def with_public_url(config: Config, url: str) -> Config:
    return config.model_copy(update={"daemon": config.daemon.model_copy(update={"public_url": url})})


def status_payload(provider_id: str, status: str, updated_at: str | None = None) -> bytes:
    """A Cliqtel status callback, dated now unless `updated_at` says otherwise."""
    when = updated_at or datetime.now(UTC).isoformat()
    event = {
        "event": "sms.status_updated",
        "data": {"id": provider_id, "status": status, "updated_at": when},
    }
    return json.dumps(event).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Cliqtel-Signature": sign(body, Secret(secret)), "Content-Type": "application/json"}


async def post(client: Client, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    resp = await client.post(path, data=body, headers=headers)
    return resp.status, await resp.json()


async def run_campaign(store: Store, config: Config, campaign_id: int, provider: Provider) -> RunReport:
    worker = Worker(store, config.dispatcher.heartbeat_interval, config.dispatcher.worker_timeout)
    await worker.start()
    try:
        runner = CampaignRunner(
            store, provider, Throttle(Limits.of(config.provider)), config, campaign_id, worker
        )
        return await asyncio.wait_for(runner.run(), 60)
    finally:
        await worker.stop()


async def submitted_job(store: Store, e164: str, provider_id: str) -> int:
    """A campaign with one job, claimed and recorded as submitted with `provider_id`; its job id."""
    campaign_id = await create_running_campaign(store, [e164])
    [job] = await store.claim_jobs(campaign_id, "w-test", 1, 60)
    await store.record_results("w-test", [JobResult(job.id, JobState.SUBMITTED, provider_id)])
    return job.id


async def job_state(store: Store, job_id: int) -> str:
    job = await store.get_job(job_id)
    assert job is not None
    return job.state


# -- receipts from the sandbox ----------------------------------------------------------------------


async def test_sandbox_receipts_move_sent_jobs_to_delivered_and_undelivered(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    recipients = numbers(12)
    sandbox = await make_sandbox(
        webhook_secret=SECRET, requests_per_minute=600, request_window=6.0, unreachable={recipients[3]}
    )
    base = sandbox_config(sandbox)
    async with serving(store, base) as client:
        config = with_public_url(base, base_url(client))
        campaign_id = await create_running_campaign(store, recipients)
        provider = make_provider(config.provider, status_callback_url=status_callback_url(config))
        try:
            report = await run_campaign(store, config, campaign_id, provider)
        finally:
            await provider.close()
        assert report.state == "completed"

        async def all_receipts_in() -> bool:
            await apply_pending_receipts(store, "default")
            return await store.job_counts(campaign_id) == {"delivered": 11, "undelivered": 1}

        await wait_for(all_receipts_in, 15, "every job delivered or undelivered")
    assert sandbox.state.stats.callbacks_failed == 0
    assert await store.count_pending_receipts() == 0


async def test_receipt_before_the_submit_is_written_is_applied_once_the_job_is_submitted(
    store: Store, sandbox: RunningSandbox
) -> None:
    config = sandbox_config(sandbox)
    campaign_id = await create_running_campaign(store, numbers(1))
    [job] = await store.claim_jobs(campaign_id, "w-race", 1, 60)
    async with serving(store, config) as client:
        # The provider calls back while our result is still in the dispatcher's buffer.
        body = status_payload("race-1", "delivered")
        assert await post(client, STATUS, body, signed(body)) == (
            200,
            {"events": 1, "verdicts": {"parked": 1}},
        )
        assert await job_state(store, job.id) == "sending"
        assert await apply_pending_receipts(store, "default") == 0  # not submitted yet: stays parked
        assert await store.count_pending_receipts() == 1

        await store.record_results("w-race", [JobResult(job.id, JobState.SUBMITTED, "race-1")])
        assert await apply_pending_receipts(store, "default") == 1
        assert await job_state(store, job.id) == "delivered"
        assert await store.count_pending_receipts() == 0

        # The provider retries the same receipt: a duplicate, nothing parked again.
        assert await post(client, STATUS, body, signed(body)) == (
            200,
            {"events": 1, "verdicts": {"duplicate": 1}},
        )
        assert await store.count_pending_receipts() == 0


async def test_parked_receipts_expire_after_a_day(store: Store, sandbox: RunningSandbox) -> None:
    async with serving(store, sandbox_config(sandbox)) as client:
        body = status_payload("never-ours", "undelivered")
        assert (await post(client, STATUS, body, signed(body)))[1]["verdicts"] == {"parked": 1}
    await store.db.pool.execute(
        "UPDATE pending_receipts SET received_at = now() - interval '25 hours'"  # test-only ageing
    )
    assert await store.apply_pending_receipts("default", 86_400) == (0, 1)
    assert await store.count_pending_receipts() == 0


# -- authentication ---------------------------------------------------------------------------------


async def test_forged_altered_and_unsigned_receipts_get_401_and_change_nothing(
    store: Store, sandbox: RunningSandbox
) -> None:
    job_id = await submitted_job(store, numbers(1)[0], "auth-1")
    body = status_payload("auth-1", "delivered")
    altered = status_payload("auth-1", "undelivered")
    async with serving(store, sandbox_config(sandbox)) as client:
        forged = await post(client, STATUS, body, signed(body, secret="not-the-secret"))
        tampered = await post(client, STATUS, altered, signed(body))
        unsigned = await post(client, STATUS, body, {"Content-Type": "application/json"})
        garbage = await post(client, STATUS, body, {"X-Cliqtel-Signature": "zz" * 32})
    assert [r[0] for r in (forged, tampered, unsigned, garbage)] == [401, 401, 401, 401]
    assert "error" in unsigned[1]
    assert await job_state(store, job_id) == "submitted"
    assert await store.count_pending_receipts() == 0


async def test_duplicates_and_out_of_order_receipts_never_move_a_job_backwards(
    store: Store, sandbox: RunningSandbox
) -> None:
    job_id = await submitted_job(store, numbers(1)[0], "order-1")
    async with serving(store, sandbox_config(sandbox)) as client:
        verdicts = []
        for status in ("sent", "delivered", "delivered", "sent", "queued", "undelivered"):
            body = status_payload("order-1", status)
            code, answer = await post(client, STATUS, body, signed(body))
            assert code == 200
            verdicts.append(next(iter(answer["verdicts"])))
            if status == "sent" and verdicts == ["ignored"]:
                assert await job_state(store, job_id) == "submitted"
    assert verdicts == ["ignored", "accepted", "duplicate", "ignored", "ignored", "duplicate"]
    assert await job_state(store, job_id) == "delivered"
    assert await store.count_pending_receipts() == 0


async def test_unknown_ids_are_answered_200(store: Store, sandbox: RunningSandbox) -> None:
    async with serving(store, sandbox_config(sandbox)) as client:
        body = status_payload("nobody-1", "sent")
        assert await post(client, STATUS, body, signed(body)) == (
            200,
            {"events": 1, "verdicts": {"ignored": 1}},
        )
        final = status_payload("nobody-2", "delivered")
        assert await post(client, STATUS, final, signed(final)) == (
            200,
            {"events": 1, "verdicts": {"parked": 1}},
        )
        # A status this client does not know (a provider's new one): 200 and ignored, never retried.
        job_id = await submitted_job(store, "+31612340000", "known-1")
        strange = status_payload("known-1", "exploded")
        assert await post(client, STATUS, strange, signed(strange)) == (
            200,
            {"events": 1, "verdicts": {"ignored": 1}, "ignored": {"unknown_status": 1}},
        )
        assert await job_state(store, job_id) == "submitted"


# -- bad requests -----------------------------------------------------------------------------------


async def test_malformed_json_is_400_and_an_oversized_body_413(store: Store, sandbox: RunningSandbox) -> None:
    config = sandbox_config(sandbox, daemon={"max_body_bytes": 2048})
    async with serving(store, config) as client:
        broken = b'{"event": "sms.status_updated", "data": {'
        assert (await post(client, STATUS, broken, signed(broken)))[0] == 400
        not_object = b"[1, 2]"
        assert (await post(client, STATUS, not_object, signed(not_object)))[0] == 400
        no_id = json.dumps({"event": "sms.status_updated", "data": {"status": "delivered"}}).encode()
        assert (await post(client, STATUS, no_id, signed(no_id)))[0] == 400
        no_id = json.dumps({"event": "sms.received", "data": {"from": "+31612340000"}}).encode()
        assert await post(client, INBOUND, no_id, signed(no_id)) == (
            400,
            {"error": "inbound webhook without id"},
        )
        big = json.dumps({"event": "sms.received", "data": {"body": "x" * 5000}}).encode()
        code, answer = await post(client, INBOUND, big, signed(big))
        assert code == 413 and "error" in answer

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"x" * 1000

        resp = await client.post(STATUS, data=chunks(), headers={"X-Cliqtel-Signature": "00"})
        assert resp.status == 413


async def test_routes_of_the_provider_not_configured_are_404(store: Store, sandbox: RunningSandbox) -> None:
    async with serving(store, sandbox_config(sandbox)) as client:
        body = b"{}"
        for path in ("/webhooks/clickatell/status", "/webhooks/clickatell/inbound", "/nowhere"):
            code, answer = await post(client, path, body, signed(body))
            assert code == 404 and "error" in answer
        resp = await client.get(STATUS)
        assert resp.status == 405


class _BrokenProvider:
    """A provider whose parser fails unexpectedly (a bug), to see what the app answers."""

    name = "broken"
    capabilities = Capabilities(webhooks=("status", "inbound"))
    max_recipients_per_request = 1

    def parse_status_webhook(self, request: Any) -> list[Any]:
        raise RuntimeError("boom: internal detail")

    async def close(self) -> None:
        return None


async def test_an_unexpected_error_is_a_500_without_the_traceback_and_is_logged(
    store: Store, sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    provider: Any = _BrokenProvider()
    with caplog.at_level(logging.ERROR, logger="campaigner.app.http"):
        async with serving(store, sandbox_config(sandbox), provider=provider) as client:
            resp = await client.post(STATUS, data=b"{}")
            text = await resp.text()
            assert resp.status == 500
            assert json.loads(text) == {"error": "internal error"}
            assert "boom" not in text and "Traceback" not in text
            assert (await client.get("/healthz")).status == 200  # still serving
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


# -- health -----------------------------------------------------------------------------------------


async def test_healthz_and_readyz(store: Store, sandbox: RunningSandbox, empty_database_url: str) -> None:
    config = sandbox_config(sandbox)
    accepting = True

    async def ready() -> bool:
        return accepting

    async with serving(store, config, ready=ready) as client:
        assert (await client.get("/healthz")).status == 200
        assert (await client.admin.get("/healthz")).status == 200
        assert (await client.get("/readyz")).status == 404  # not on the listener the provider reaches
        assert (await client.get("/metrics")).status == 404
        resp = await client.admin.get("/readyz")
        assert resp.status == 200 and (await resp.json())["status"] == "ready"
        accepting = False
        resp = await client.admin.get("/readyz")
        assert resp.status == 503
        assert any("not ready" in r for r in (await resp.json())["reasons"])

    unmigrated = await Store.open_url(empty_database_url, migrate=False)
    try:
        async with serving(unmigrated, config) as client:
            resp = await client.admin.get("/readyz")
            reasons = (await resp.json())["reasons"]
            assert resp.status == 503 and "migrations pending" in reasons[0]
            assert (await client.get("/healthz")).status == 200
    finally:
        await unmigrated.close()


# -- inbound ----------------------------------------------------------------------------------------


async def inject(sandbox: RunningSandbox, sender: str, body: str, url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        payload = {"from": sender, "body": body, "url": url}
        async with session.post(sandbox.url + "/_sandbox/inbound", json=payload) as resp:
            assert resp.status == 200
            answer: dict[str, Any] = await resp.json()
    assert answer["delivered"] == 200, answer
    return answer


async def test_inbound_stop_stops_later_sends_to_that_number_in_a_running_campaign(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    # 5 messages a second: 40 jobs take ~8 s; the target's jobs come last (claimed in id order).
    sandbox = await make_sandbox(webhook_secret=SECRET, requests_per_minute=50, request_window=10.0)
    others = numbers(36)
    target = numbers(1, start=500)[0]
    recipients: Sequence[str] = [*others[:30], target, *others[30:], target, target, target]
    # Default claims (about two seconds of sending): jobs already claimed when the STOP arrives are
    # held back by the dispatcher, the rest are skipped by the claims that reach them.
    config = sandbox_config(sandbox, provider={"messages_per_second": 5.0})
    campaign_id = await create_running_campaign(store, list(recipients))
    elsewhere = await create_running_campaign(store, [target])
    await store.pause_campaign(elsewhere, "not now")
    async with serving(store, config) as client:
        provider = make_provider(config.provider)
        try:
            run = asyncio.create_task(run_campaign(store, config, campaign_id, provider))

            async def sending_started() -> bool:
                return (await store.job_counts(campaign_id)).get("submitted", 0) >= 3

            await wait_for(sending_started, 20, "the first sends")
            answer = await inject(sandbox, target, "  Stop! ", base_url(client) + INBOUND)
            assert answer["delivered"] == 200
            report = await run
        finally:
            await provider.close()
    assert report.state == "completed"
    counts = await store.job_counts(campaign_id)
    assert counts == {"submitted": 36, "skipped": 4}
    assert target not in sandbox.state.snapshot(per_recipient=True)["per_recipient"]
    await store.set_campaign_state(elsewhere, "running")  # any campaign: its claim skips the number
    assert await store.claim_jobs(elsewhere, "w", 10, 30) == []
    assert await store.job_counts(elsewhere) == {"skipped": 1}
    [entry] = [s for s in await store.list_suppressions() if s.e164 == target]
    assert (entry.reason, entry.source) == ("stop_reply", "inbound")


async def test_a_sentence_with_stop_in_it_is_not_an_opt_out_and_start_lifts_only_stop_replies(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    sandbox = await make_sandbox(webhook_secret=SECRET)
    replier, manual = numbers(2)
    await store.add_suppressions([manual], "complaint", "manual")
    async with serving(store, sandbox_config(sandbox)) as client:
        url = base_url(client) + INBOUND
        await inject(sandbox, replier, "Please don't stop sending these", url)
        assert await store.suppressed_numbers() == {manual}
        await inject(sandbox, replier, "STOP", url)
        assert await store.suppressed_numbers() == {manual, replier}
        await inject(sandbox, replier, "Start", url)
        await inject(sandbox, manual, "UNSTOP", url)
    assert await store.suppressed_numbers() == {manual}


async def test_a_stop_reaches_a_clickatell_daemon_in_clickatells_shape(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    sandbox = await make_sandbox(webhook_secret=SECRET)
    config = sandbox_config(sandbox, provider_type="clickatell")
    [replier] = numbers(1, start=700)
    async with serving(store, config) as client:
        inbound = base_url(client) + f"/webhooks/clickatell/inbound?token={SECRET}"
        await inject(sandbox, replier, " stop! ", inbound)
    [entry] = [s for s in await store.list_suppressions() if s.e164 == replier]
    assert (entry.reason, entry.source) == ("stop_reply", "inbound")


async def test_inbound_body_is_never_logged_at_info(
    store: Store, make_sandbox: MakeSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = await make_sandbox(webhook_secret=SECRET)
    secret_text = "my account number is 12345678"
    with caplog.at_level(logging.INFO, logger="campaigner"):
        async with serving(store, sandbox_config(sandbox)) as client:
            await inject(sandbox, numbers(1)[0], secret_text, base_url(client) + INBOUND)
            await inject(sandbox, numbers(1)[0], "STOP", base_url(client) + INBOUND)
    assert caplog.records, "the opt-out is logged"
    assert all(secret_text not in r.getMessage() for r in caplog.records)
    assert all(numbers(1)[0] not in r.getMessage() for r in caplog.records)  # numbers masked


# -- clickatell -------------------------------------------------------------------------------------


async def test_clickatell_callbacks_on_their_own_route(store: Store, make_sandbox: MakeSandbox) -> None:
    sandbox = await make_sandbox(webhook_secret=SECRET)
    config = sandbox_config(sandbox, provider_type="clickatell", provider={"recipients_per_request": 5})
    campaign_id = await create_running_campaign(store, numbers(5))
    async with serving(store, config) as client:
        sandbox.settings.clickatell_callback_url = (
            base_url(client) + f"/webhooks/clickatell/status?token={SECRET}"
        )
        assert (await client.post(STATUS, data=b"{}")).status == 404
        provider = make_provider(
            config.provider, status_callback_url=sandbox.settings.clickatell_callback_url
        )
        try:
            assert (await run_campaign(store, config, campaign_id, provider)).state == "completed"
        finally:
            await provider.close()

        async def delivered() -> bool:
            await apply_pending_receipts(store, "default")
            return await store.job_counts(campaign_id) == {"delivered": 5}

        await wait_for(delivered, 15, "Clickatell receipts")
