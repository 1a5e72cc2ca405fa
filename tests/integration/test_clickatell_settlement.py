"""Clickatell campaigns against the document-faithful sandbox, end to end over HTTP on 127.0.0.1:
sends in batches whose replies are lost are settled by the status callbacks, never by a lookup the
document does not offer; callbacks in every shape move jobs; per-message refusals touch only their
own jobs (issue 13's "done means")."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from campaigner.app.stop_queued import MessageStopper, stop_queued
from campaigner.config import Config
from campaigner.inbound.policy import InboundPolicy
from campaigner.model.jobs import JobResult
from campaigner.model.provider import OutboundMessage
from campaigner.model.states import JobState
from campaigner.providers.registry import make_provider
from campaigner.sandbox import RunningSandbox
from campaigner.store.store import Store
from tests.builders import create_running_campaign, numbers
from tests.dispatch_helpers import API_KEY_ENV, run_campaign, sandbox_config
from tests.fixtures.sandbox import MakeSandbox
from tests.http_helpers import serving
from tests.store_helpers import jobs_of

TOKEN = "callback-token-for-tests"
TOKEN_ENV = "CAMPAIGNER_TEST_CLICKATELL_CALLBACK"


@pytest.fixture(autouse=True)
def callback_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(API_KEY_ENV, "17|sandbox-full-access-key")


def clickatell_config(sandbox: RunningSandbox, **provider: Any) -> Config:
    return sandbox_config(
        sandbox,
        provider_type="clickatell",
        provider={"callback_token_env": TOKEN_ENV, "recipients_per_request": 50, **provider},
        dispatcher={"lease_seconds": 10.0},
    )


async def job_states(store: Store, campaign_id: int) -> Counter[str]:
    return Counter(
        {
            str(state): total.jobs
            for state, total in (await store.job_totals(campaign_id)).items()
            if total.jobs
        }
    )


async def test_lost_batch_replies_are_settled_by_callbacks_and_nothing_is_sent_twice(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    # 600 recipients in batches of 50 at 300 msg/s; 10 % of the replies lost after the sandbox
    # stored the batch. The campaign completes on its own: the lost batches' jobs are settled by
    # their status callbacks (clientMessageId r<first job> + to), none is asked for or sent again.
    sandbox = await make_sandbox(
        reply_lost_rate=0.1,
        requests_per_minute=600,
        request_window=1.0,
        messages_per_second=300,
        message_window=1.0,
    )
    config = clickatell_config(sandbox, unsettled_after=60.0)
    campaign_id = await create_running_campaign(store, numbers(600), body="Same text for all")
    async with serving(store, config) as client:
        url = str(client.make_url("/webhooks/clickatell/status")) + f"?token={TOKEN}"
        sandbox.state.configure({"clickatell_callback_url": url})
        report = await run_campaign(store, config, campaign_id)
        assert report.state == "completed"
        stats = sandbox.state.snapshot()
    assert stats["faults"].get("reply_lost", 0) >= 1, stats["faults"]  # the fault did happen
    assert stats["duplicates"] == {} and stats["recipients"] == 600
    # Every request the sandbox saw was a send: no lookup by our id, which the document lacks.
    assert stats["requests"] == report.requests
    states = await job_states(store, campaign_id)
    assert states["unknown"] == 0 and states["sending"] == 0 and states["pending"] == 0
    assert states["delivered"] + states["submitted"] + states["undelivered"] == 600, states
    assert report.reconciled.get("awaiting_callback", 0) >= 50  # at least one batch was lost


async def test_without_callbacks_lost_replies_end_unknown_and_the_campaign_completes(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    sandbox = await make_sandbox(reply_lost_rate=1.0, requests_per_minute=600, request_window=1.0)
    config = clickatell_config(sandbox, unsettled_after=0.5, callback=0)
    campaign_id = await create_running_campaign(store, numbers(20), body="Same text for all")
    report = await run_campaign(store, config, campaign_id)
    assert report.state == "completed"
    assert await job_states(store, campaign_id) == Counter({"unknown": 20})
    assert sandbox.state.snapshot()["duplicates"] == {}  # never resent on a guess
    assert report.reconciled.get("unknown") == 20


async def test_status_and_mo_callbacks_in_every_shape_through_the_daemon(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    sandbox = await make_sandbox()
    config = clickatell_config(sandbox)
    campaign_id = await create_running_campaign(store, numbers(3), body="Same text for all")
    [first, second, third] = await store.claim_jobs(campaign_id, "w-lost", 3, 60)  # replies lost
    async with serving(store, config) as client:
        status = client.make_url("/webhooks/clickatell/status")
        inbound = client.make_url("/webhooks/clickatell/inbound")
        now = datetime.now(UTC)
        common = {
            "api_id": "1",
            "timestamp": str(int(now.timestamp())),
            "from": "3197010203040",
            "cliMsgId": f"r{first.id}",
        }
        shapes: list[tuple[str, dict[str, Any], Any]] = [
            ("form", {**common, "apiMsgId": "m-1", "to": first.e164[1:], "status": "004"}, first),
            ("get", {**common, "apiMsgId": "m-2", "to": second.e164[1:], "status": "003"}, second),
        ]
        async with aiohttp.ClientSession() as session:
            for shape, fields, _job in shapes:
                if shape == "form":
                    reply = await session.post(
                        f"{status}?token={TOKEN}",
                        data=urlencode(fields),
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                    )
                else:
                    reply = await session.get(status, params={**fields, "token": TOKEN})
                assert reply.status == 200, await reply.text()
            rest_json = {
                "data": {"apiMessageId": "m-3", "clientMessageId": str(third.id), "messageStatus": "004"}
            }
            reply = await session.post(f"{status}?token={TOKEN}", json=rest_json)
            assert reply.status == 200
            refused = await session.get(status, params={**shapes[0][1], "token": "wrong"})
            assert refused.status == 401
            stop = {
                "api_id": "1",
                "moMsgId": "mo-1",
                "from": third.e164[1:],
                "to": "3197010203040",
                "timestamp": now.strftime("%Y-%m-%d %H:%M:%S"),
                "text": "STOP",
                "charset": "ISO-8859-1",
            }
            reply = await session.get(inbound, params={**stop, "token": TOKEN})
            assert reply.status == 200, await reply.text()
    jobs = {job.id: await store.get_job(job.id) for job in (first, second, third)}
    assert [(j.state, j.provider_id) for j in jobs.values() if j] == [
        ("delivered", "m-1"),
        ("submitted", "m-2"),  # 003 "delivered to gateway": settled, not final
        ("delivered", "m-3"),
    ]
    assert third.e164 in {s.e164 for s in await store.list_suppressions()}


async def test_per_message_refusals_reject_only_their_jobs_and_an_opt_out_is_suppressed(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    # Personalised texts: one request per job. The sandbox answers the invalid number's request 400
    # and the opted-out number's 410, each with the code inside data.message[] and no top-level
    # error. Neither pauses the campaign; only those two jobs are rejected.
    recipients = numbers(8)
    invalid, opted_out = recipients[2], recipients[5]
    sandbox = await make_sandbox(
        requests_per_minute=600, request_window=1.0, invalid_destinations={invalid}, opted_out={opted_out}
    )
    config = clickatell_config(sandbox)
    campaign_id = await create_running_campaign(store, recipients, body="Hello {n}")
    report = await run_campaign(store, config, campaign_id)
    assert report.state == "completed" and report.rejected == 2
    jobs = {job["e164"]: job for job in await jobs_of(store, campaign_id)}
    assert (jobs[invalid]["state"], jobs[invalid]["error_code"], jobs[invalid]["error_class"]) == (
        "rejected",
        "105",
        "recipient",
    )
    assert (jobs[opted_out]["state"], jobs[opted_out]["error_code"], jobs[opted_out]["error_class"]) == (
        "rejected",
        "122",
        "opt_out",
    )
    assert all(job["state"] != "rejected" for e164, job in jobs.items() if e164 not in (invalid, opted_out))
    [suppressed] = [s for s in await store.list_suppressions() if s.e164 in (invalid, opted_out)]
    assert (suppressed.e164, suppressed.source) == (opted_out, "provider:122")
    # The consent ledger has the provider's block, with its code and the campaign whose send found it.
    [block] = await store.consent_history(opted_out)
    found = (block["action"], block["source"], block["campaign_id"])
    assert found == ("provider_block", "provider:122", campaign_id)


async def test_cancel_stops_the_messages_still_queued_at_clickatell(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    sandbox = await make_sandbox(requests_per_minute=600, request_window=1.0, sent_delay=3600.0)
    config = clickatell_config(sandbox)
    campaign_id = await create_running_campaign(store, numbers(6), body="Same text for all")
    claimed = await store.claim_jobs(campaign_id, "w-1", 3, 60)
    provider = make_provider(config.provider)
    try:
        sent = await provider.send([OutboundMessage(j.id, j.e164, j.body) for j in claimed])
        await store.record_results(
            "w-1", [JobResult(r.ref, JobState.SUBMITTED, provider_id=r.provider_id) for r in sent]
        )
        assert await store.cancel_campaign(campaign_id) == 3  # the three never sent
        assert isinstance(provider, MessageStopper)
        outcome = await stop_queued(
            store,
            provider,
            campaign_id,
            pace=lambda: asyncio.sleep(0),
            policy=InboundPolicy.from_config(config),
        )
    finally:
        await provider.close()
    assert outcome == Counter({"stopped": 3})
    assert await job_states(store, campaign_id) == Counter({"cancelled": 3, "undelivered": 3})
    assert {sandbox.state.store.by_api_id[r.provider_id or ""].status for r in sent} == {"cancelled"}


async def test_130_waits_until_the_given_time_then_sends_on(store: Store, make_sandbox: MakeSandbox) -> None:
    # The account's MT limit is reached until a UNIX time: nothing is rejected, no attempt is
    # spent, every sender waits until then, and the campaign then completes on its own.
    until = time.time() + 3.0
    sandbox = await make_sandbox(
        requests_per_minute=600, request_window=1.0, mt_limit_rate=1.0, mt_limit_until=until
    )
    config = clickatell_config(sandbox)
    campaign_id = await create_running_campaign(store, numbers(5), body="Same text for all")

    async def lift_at_the_given_time() -> None:
        await asyncio.sleep(max(0.0, until - time.time()))
        sandbox.state.configure({"mt_limit_rate": 0.0})

    lifting = asyncio.create_task(lift_at_the_given_time())
    report = await run_campaign(store, config, campaign_id)
    await lifting
    assert report.state == "completed" and report.rejected == 0
    # One refused request (two when the retry at the given time beats the lift by a moment), then
    # the one that went through: the senders waited for the time, they did not knock every second.
    assert report.throttled >= 5 and report.requests <= 3
    assert time.time() >= until
    assert await job_states(store, campaign_id) in (Counter({"submitted": 5}), Counter({"delivered": 5}))
    assert all(job["attempts"] <= 1 for job in await jobs_of(store, campaign_id))
