"""The Cliqtel client against the sandbox over real HTTP on 127.0.0.1: every outcome, both envelopes,
both paginations, lookups, network failures, webhooks and secrecy of the key."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from campaigner.app.preflight import check_sender
from campaigner.config import ProviderConfig
from campaigner.errors import ProviderError
from campaigner.model.provider import (
    DeliveryStatus,
    OutboundMessage,
    Outcome,
    WebhookRejected,
    WebhookRequest,
)
from campaigner.providers.base import Provider
from campaigner.providers.registry import make_provider
from campaigner.sandbox.app import RunningSandbox, run_sandbox
from campaigner.sandbox.settings import settings_for_tests

SENDER = "+3197010203040"
NOT_SMS = "+31201234567"
TO = "+31612345678"
BASELINE = {
    "requests_per_minute": 100000,
    "messages_per_second": 100000,
    "balance": 100.0,
    "error_style": "nested",
    "pagination": "meta",
    "fault_500_rate": 0.0,
    "fault_503_rate": 0.0,
    "reset_rate": 0.0,
    "slow_rate": 0.0,
    "reply_lost_rate": 0.0,
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(settings_for_tests(**BASELINE)) as sb:
        yield sb


@pytest.fixture
def sb(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> RunningSandbox:
    """The module's sandbox, emptied and back at the baseline settings; keys in the environment."""
    sandbox.state.configure(BASELINE)
    sandbox.state.reset()
    monkeypatch.setenv("CLIQTEL_API_KEY", sandbox.settings.full_key)
    monkeypatch.setenv("CLIQTEL_WEBHOOK_SECRET", sandbox.settings.webhook_secret)
    return sandbox


ProviderFactory = Callable[..., Provider]


@pytest_asyncio.fixture(loop_scope="session")
async def make(sb: RunningSandbox) -> AsyncIterator[ProviderFactory]:
    made: list[Provider] = []

    def build(callback: str | None = None, **overrides: Any) -> Provider:
        fields: dict[str, Any] = {"base_url": sb.cliqtel_url, "sender": SENDER, "read_timeout": 5.0}
        fields.update(overrides)
        provider = make_provider(ProviderConfig(**fields), status_callback_url=callback)
        made.append(provider)
        return provider

    yield build
    for provider in made:
        await provider.close()


def msg(ref: int = 1, to: str = TO, body: str = "Hello from the tests") -> OutboundMessage:
    return OutboundMessage(ref=ref, to=to, body=body)


async def test_send_accepted_with_provider_id(sb: RunningSandbox, make: ProviderFactory) -> None:
    provider = make()
    [result] = await provider.send([msg(7)])
    assert result.outcome is Outcome.ACCEPTED and result.ref == 7
    stored = sb.state.store.get(int(result.provider_id or 0))
    assert stored is not None and stored.to == TO and stored.from_ == SENDER
    assert provider.rate_limit.limit == 100000 and provider.rate_limit.remaining is not None


async def test_send_with_from_number_id_and_portal_success_shape(
    sb: RunningSandbox, make: ProviderFactory
) -> None:
    by_id = make(sender="", sender_number_id=1)
    portal = make(use_portal_endpoint=True)  # resolves the sender to its id through GET /numbers
    results = await by_id.send([msg(1)]) + await portal.send([msg(2)])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    apis = [sb.state.store.get(int(r.provider_id or 0)).api for r in results]  # type: ignore[union-attr]
    assert apis == ["cliqtel", "portal"]


@pytest.mark.parametrize("style", ["nested", "flat"])
async def test_every_error_class_in_both_envelopes(
    sb: RunningSandbox, make: ProviderFactory, style: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb.state.configure({"error_style": style})
    ok = make()
    [bad_to] = await ok.send([msg(to="+12")])
    assert (bad_to.outcome, bad_to.code) == (Outcome.RECIPIENT, "validation_error")
    [not_sms] = await make(sender=NOT_SMS).send([msg()])
    assert (not_sms.outcome, not_sms.code) == (Outcome.ACCOUNT, "number_not_found")
    [no_sender] = await make(sender="").send([msg()])
    assert no_sender.outcome is Outcome.ACCOUNT
    [too_long] = await ok.send([msg(body="x" * 1601)])
    assert too_long.outcome is Outcome.RECIPIENT

    sb.state.configure({"balance": 0.0})
    [funds] = await ok.send([msg()])
    assert (funds.outcome, funds.code) == (Outcome.FUNDS, "insufficient_balance")
    sb.state.configure({"balance": 100.0})

    monkeypatch.setenv("CLIQTEL_API_KEY", sb.settings.read_key)
    [scope] = await make().send([msg()])
    assert (scope.outcome, scope.code) == (Outcome.ACCOUNT, "insufficient_scope")
    monkeypatch.setenv("CLIQTEL_API_KEY", "99|not-a-key")
    [unauth] = await make().send([msg()])
    assert (unauth.outcome, unauth.code) == (Outcome.ACCOUNT, "unauthenticated")
    monkeypatch.setenv("CLIQTEL_API_KEY", sb.settings.full_key)

    sb.state.configure({"fault_500_rate": 1.0})
    [e500] = await ok.send([msg()])
    sb.state.configure({"fault_500_rate": 0.0, "fault_503_rate": 1.0})
    [e503] = await ok.send([msg()])
    # A server error may come after the message was stored: looked up, never resent blind.
    assert (e500.outcome, e503.outcome) == (Outcome.AMBIGUOUS, Outcome.TRANSIENT)
    assert sb.state.snapshot()["accepted_messages"] == 0


async def test_throttled_with_retry_after(sb: RunningSandbox, make: ProviderFactory) -> None:
    sb.state.configure({"requests_per_minute": 1, "request_window": 60.0})
    provider = make()
    first, second = await provider.send([msg(1)]), await provider.send([msg(2)])
    assert first[0].outcome is Outcome.ACCEPTED
    assert second[0].outcome is Outcome.THROTTLED and (second[0].retry_after or 0) >= 1
    assert provider.rate_limit.remaining == 0 and provider.rate_limit.retry_after is not None


async def test_batch_of_several_gets_one_result_each_in_order(make: ProviderFactory) -> None:
    results = await make().send([msg(3, body="a"), msg(1, to="+12"), msg(2, body="b")])
    assert [(r.ref, r.outcome) for r in results] == [
        (3, Outcome.ACCEPTED),
        (1, Outcome.RECIPIENT),
        (2, Outcome.ACCEPTED),
    ]


@pytest.mark.parametrize("pagination", ["meta", "laravel"])
async def test_lookup_follows_pages(sb: RunningSandbox, make: ProviderFactory, pagination: str) -> None:
    sb.state.configure({"pagination": pagination})
    provider = make()
    since = datetime.now(UTC) - timedelta(seconds=1)
    [target] = await provider.send([msg(1, body="the one we look for")])
    for batch in range(5):  # 250 newer messages to the same recipient: the target is on page 3
        await asyncio.gather(*(provider.send([msg(i, body=f"filler {batch}/{i}")]) for i in range(50)))
    found = await provider.lookup(msg(1, body="the one we look for"), since)
    assert found.found and found.provider_id == target.provider_id
    assert found.status in {s.value for s in DeliveryStatus}
    missing = await provider.lookup(msg(1, body="never sent"), since)
    assert not missing.found
    later = await provider.lookup(
        msg(1, body="the one we look for"), datetime.now(UTC) + timedelta(seconds=5)
    )
    assert not later.found
    assert sb.state.snapshot()["requests"] >= 251 + 3 + 3


async def test_reply_lost_is_ambiguous_and_lookup_finds_it(sb: RunningSandbox, make: ProviderFactory) -> None:
    provider = make()
    since = datetime.now(UTC)
    sb.state.configure({"reply_lost_rate": 1.0})
    [lost] = await provider.send([msg(5)])
    sb.state.configure({"reply_lost_rate": 0.0})
    assert lost.outcome is Outcome.AMBIGUOUS
    found = await provider.lookup(msg(5), since)
    assert found.found and sb.state.store.get(int(found.provider_id or 0)) is not None


async def test_slow_reply_past_read_timeout_is_ambiguous(sb: RunningSandbox, make: ProviderFactory) -> None:
    sb.state.configure({"slow_rate": 1.0, "slow_seconds": 1.0})
    provider = make(read_timeout=0.2)
    since = datetime.now(UTC)
    [slow] = await provider.send([msg(6)])
    sb.state.configure({"slow_rate": 0.0})
    assert slow.outcome is Outcome.AMBIGUOUS
    assert (await provider.lookup(msg(6), since)).found


async def test_reset_after_the_request_is_ambiguous_and_not_found(
    sb: RunningSandbox, make: ProviderFactory
) -> None:
    # The sandbox resets after reading the request: from here it cannot be told from a lost reply.
    sb.state.configure({"reset_rate": 1.0})
    provider = make()
    since = datetime.now(UTC)
    [reset] = await provider.send([msg(8)])
    sb.state.configure({"reset_rate": 0.0})
    assert reset.outcome is Outcome.AMBIGUOUS
    assert not (await provider.lookup(msg(8), since)).found


async def test_connection_refused_is_transient(make: ProviderFactory) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = make(base_url=f"http://127.0.0.1:{port}/api/v1/sms")
    [refused] = await provider.send([msg()])
    assert refused.outcome is Outcome.TRANSIENT and refused.code == "network"
    with pytest.raises(ProviderError):
        await provider.lookup(msg(), datetime.now(UTC))


async def test_numbers_and_check_sender(sb: RunningSandbox, make: ProviderFactory) -> None:
    provider = make()
    numbers = await provider.numbers()
    assert [(n.id, n.number, n.sms_enabled, n.country) for n in numbers] == [("1", SENDER, True, "NL")]
    assert (await check_sender(provider, ProviderConfig(sender=SENDER))).id == "1"
    assert (await check_sender(provider, ProviderConfig(sender_number_id=1))).number == SENDER
    with pytest.raises(ProviderError, match=rf"sender \{NOT_SMS} is not an SMS-enabled number .*\{SENDER}"):
        await check_sender(provider, ProviderConfig(sender=NOT_SMS))
    with pytest.raises(ProviderError, match="no sender configured"):
        await check_sender(provider, ProviderConfig())


# --- webhooks -------------------------------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def receiver() -> AsyncIterator[tuple[str, list[WebhookRequest]]]:
    """A real HTTP endpoint that records the callbacks it gets."""
    got: list[WebhookRequest] = []

    async def hook(request: web.Request) -> web.Response:
        got.append(WebhookRequest(await request.read(), dict(request.headers)))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/hook", got
    await runner.cleanup()


async def _wait_for(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_status_webhook_signed_by_the_sandbox_is_accepted(
    make: ProviderFactory, receiver: tuple[str, list[WebhookRequest]]
) -> None:
    url, got = receiver
    provider = make(callback=url)
    [sent] = await provider.send([msg()])
    await _wait_for(lambda: any(b'"delivered"' in r.body for r in got))
    events = [e for r in got for e in provider.parse_status_webhook(r)]
    assert {e.provider_id for e in events} == {sent.provider_id}
    assert events[-1].status is DeliveryStatus.DELIVERED and events[-1].occurred_at is not None


async def test_webhook_rejected_without_valid_signature(
    sb: RunningSandbox, make: ProviderFactory, receiver: tuple[str, list[WebhookRequest]]
) -> None:
    url, got = receiver
    provider = make(callback=url)
    await provider.send([msg()])
    await _wait_for(lambda: bool(got))
    good = got[0]
    header = "X-Cliqtel-Signature"
    wrong = hmac.new(b"wrong secret", good.body, hashlib.sha256).hexdigest()
    altered = good.body.replace(b'"+31612345678"', b'"+31600000000"')
    assert altered != good.body
    cases = {
        "wrong secret": WebhookRequest(good.body, {header: wrong}),
        "altered body": WebhookRequest(altered, dict(good.headers)),
        "missing header": WebhookRequest(good.body, {"Content-Type": "application/json"}),
    }
    for name, request in cases.items():
        with pytest.raises(WebhookRejected) as caught:
            provider.parse_status_webhook(request)
        assert caught.value.status == 401, name
    secret = sb.settings.webhook_secret.encode()
    junk = b"{not json"
    signed_junk = hmac.new(secret, junk, hashlib.sha256).hexdigest()
    with pytest.raises(WebhookRejected) as malformed:
        provider.parse_status_webhook(WebhookRequest(junk, {header.lower(): signed_junk}))
    assert malformed.value.status == 400


async def test_inbound_webhook(
    sb: RunningSandbox, make: ProviderFactory, receiver: tuple[str, list[WebhookRequest]]
) -> None:
    url, got = receiver
    provider = make()
    async with aiohttp.ClientSession() as http:
        payload = {"from": TO, "body": "STOP", "url": url}
        async with http.post(f"{sb.url}/_sandbox/inbound", json=payload) as reply:
            assert reply.status == 200
    await _wait_for(lambda: bool(got))
    [event] = provider.parse_inbound_webhook(got[0])
    assert (event.from_number, event.to_number, event.body) == (TO, SENDER, "STOP")
    assert provider.parse_status_webhook(got[0]) == []  # an sms.received is not a status event


# --- secrecy --------------------------------------------------------------------------------------------


async def test_key_never_in_repr_or_error_text(
    monkeypatch: pytest.MonkeyPatch, make: ProviderFactory
) -> None:
    key = "42|super-secret-value"

    async def echo(request: web.Request) -> web.Response:
        # A careless server that repeats the credentials it was given.
        text = f"bad token {request.headers.get('Authorization')}"
        return web.json_response({"error": {"code": "unauthenticated", "message": text}}, status=401)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        monkeypatch.setenv("CLIQTEL_API_KEY", key)
        provider = make(base_url=f"http://127.0.0.1:{runner.addresses[0][1]}/api/v1/sms")
        [result] = await provider.send([msg()])
        with pytest.raises(ProviderError) as caught:
            await provider.numbers()
    finally:
        await runner.cleanup()
    texts = [repr(provider), str(provider), repr(result), str(caught.value), json.dumps(result.message)]
    assert result.outcome is Outcome.ACCOUNT and "***" in (result.message or "")
    for text in texts:
        assert "super-secret" not in text
