"""The sandbox provider over real HTTP on 127.0.0.1, driven with plain aiohttp."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from campaigner.sandbox import SIGNATURE_HEADER, RunningSandbox
from campaigner.sandbox.ratelimit import RollingWindow
from tests.fixtures.sandbox import MakeSandbox

SENDER = "+3197010203040"


def auth(sb: RunningSandbox, *, read_only: bool = False) -> dict[str, str]:
    key = sb.settings.read_key if read_only else sb.settings.full_key
    return {"Authorization": f"Bearer {key}"}


def clickatell_headers(sb: RunningSandbox) -> dict[str, str]:
    return {**auth(sb), "X-Version": "1", "Accept": "application/json"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def send(
    http: aiohttp.ClientSession,
    sb: RunningSandbox,
    to: str = "+31612345678",
    body: str = "Hello",
    **extra: Any,
) -> aiohttp.ClientResponse:
    payload = {"from": SENDER, "to": to, "body": body, **extra}
    async with http.post(f"{sb.cliqtel_url}/messages", json=payload, headers=auth(sb)) as resp:
        await resp.read()
        return resp


async def poll(condition: Callable[[], Awaitable[bool] | bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


class Receiver:
    """A real webhook receiver on a free port that records raw bodies and headers."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((await request.read(), dict(request.headers)))
        return web.Response(text="ok")

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body, _ in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield rec
    await runner.cleanup()


# ---- auth and scopes ------------------------------------------------------------------------------


async def test_missing_or_unknown_key_is_401_unauthenticated(sandbox: RunningSandbox, http: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer 17|wrong"}, {"Authorization": "Basic abc"}):
        async with http.get(f"{sandbox.cliqtel_url}/numbers", headers=headers) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "unauthenticated"


async def test_read_only_key_lists_but_gets_403_insufficient_scope_on_send(
    sandbox: RunningSandbox, http: Any
) -> None:
    payload = {"from": SENDER, "to": "+31612345678", "body": "hi"}
    headers = auth(sandbox, read_only=True)
    async with http.post(f"{sandbox.cliqtel_url}/messages", json=payload, headers=headers) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "insufficient_scope"
    async with http.get(f"{sandbox.cliqtel_url}/messages", headers=headers) as resp:
        assert resp.status == 200
    assert sandbox.state.stats.accepted_messages == 0


# ---- send and validation --------------------------------------------------------------------------


async def test_send_answers_201_with_the_documented_message_and_debits_the_wallet(
    sandbox: RunningSandbox, http: Any
) -> None:
    payload = {"from": SENDER, "to": "+31612345678", "body": "Your order has shipped"}
    async with http.post(f"{sandbox.cliqtel_url}/messages", json=payload, headers=auth(sandbox)) as resp:
        assert resp.status == 201
        data = (await resp.json())["data"]
    assert isinstance(data["id"], int)
    assert data["status"] == "queued" and data["direction"] == "outbound"
    assert (data["from"], data["to"], data["segments"], data["cost"], data["currency"]) == (
        SENDER,
        "+31612345678",
        1,
        0.008,
        "EUR",
    )
    assert sandbox.state.balance == pytest.approx(100 - 0.008)
    async with http.get(f"{sandbox.cliqtel_url}/messages/{data['id']}", headers=auth(sandbox)) as resp:
        assert resp.status == 200
        assert (await resp.json())["data"]["id"] == data["id"]
    async with http.get(f"{sandbox.cliqtel_url}/messages/999999", headers=auth(sandbox)) as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "not_found"


async def test_validation_errors_name_the_fields(sandbox: RunningSandbox, http: Any) -> None:
    url = f"{sandbox.cliqtel_url}/messages"
    cases: list[tuple[dict[str, Any], set[str]]] = [
        (
            {"from": SENDER, "from_number_id": 1, "to": "+31612345678", "body": "x"},
            {"from", "from_number_id"},
        ),
        ({"from": SENDER, "to": "0612345678", "body": "x"}, {"to"}),
        ({"from": SENDER, "to": "+31612345678", "body": "x" * 1601}, {"body"}),
        ({"from": SENDER, "to": "+31612345678"}, {"body"}),
        ({"to": "+31612345678", "body": "x"}, {"from"}),
    ]
    for payload, fields in cases:
        async with http.post(url, json=payload, headers=auth(sandbox)) as resp:
            assert resp.status == 422, payload
            error = (await resp.json())["error"]
            assert error["code"] == "validation_error"
            assert set(error["errors"]) == fields
    assert sandbox.state.stats.accepted_messages == 0
    assert sandbox.state.stats.rejections["422_validation_error"] == len(cases)


async def test_unknown_or_sms_disabled_sender_is_422_number_not_found(
    sandbox: RunningSandbox, http: Any
) -> None:
    url = f"{sandbox.cliqtel_url}/messages"
    for sender in ({"from": "+31687654321"}, {"from_number_id": 2}, {"from_number_id": 99}):
        payload = {**sender, "to": "+31612345678", "body": "x"}
        async with http.post(url, json=payload, headers=auth(sandbox)) as resp:
            assert resp.status == 422
            assert (await resp.json())["error"]["code"] == "number_not_found"


async def test_numbers_lists_only_sms_enabled_numbers(sandbox: RunningSandbox, http: Any) -> None:
    async with http.get(f"{sandbox.cliqtel_url}/numbers", headers=auth(sandbox)) as resp:
        numbers = (await resp.json())["data"]
    assert numbers == [
        {"id": 1, "number": SENDER, "country_code": "NL", "number_type": "mobile", "sms_enabled": True}
    ]


async def test_portal_send_answers_success_and_message(sandbox: RunningSandbox, http: Any) -> None:
    payload = {"from_number_id": 1, "to": "+31612345678", "body": "Hi"}
    async with http.post(f"{sandbox.portal_url}/send", json=payload, headers=auth(sandbox)) as resp:
        assert resp.status == 201
        body = await resp.json()
    assert body["success"] is True
    assert body["message"]["status"] == "queued" and body["message"]["from"] == SENDER


async def test_flat_error_style_uses_error_and_message_keys(make_sandbox: MakeSandbox, http: Any) -> None:
    sb = await make_sandbox(error_style="flat")
    async with http.get(f"{sb.cliqtel_url}/numbers") as resp:
        assert resp.status == 401
        assert await resp.json() == {"error": "unauthenticated", "message": "Missing or invalid API key"}


# ---- rolling windows ------------------------------------------------------------------------------


def test_rolling_window_refuses_a_burst_followed_by_a_steady_rate() -> None:
    # A token bucket lets 60 through at once and then 1/s (119 in the first minute); a strict
    # rolling window must refuse every request until the first ones are 60 s old.
    window = RollingWindow(60, 60.0)
    assert all(window.acquire(0.0).allowed for _ in range(60))
    refused = window.acquire(1.0)
    assert not refused.allowed and refused.retry_after == pytest.approx(59.0)
    assert not window.acquire(59.999).allowed
    assert window.acquire(60.0).allowed
    assert window.max_in_window == 60 and window.max_attempted == 62 and window.violations == 2


def test_rolling_window_never_lets_more_than_the_limit_into_any_window() -> None:
    # Random arrivals against a brute-force count of every window ending at an accepted request.
    import random

    rng = random.Random(7)
    window = RollingWindow(10, 1.0)
    accepted: list[float] = []
    now = 0.0
    for _ in range(2000):
        now += rng.expovariate(25.0)
        amount = rng.choice((1, 1, 1, 3))
        decision = window.acquire(now, amount)
        if decision.allowed:
            accepted.extend([now] * amount)
            assert sum(1 for t in accepted if now - t < 1.0) <= 10
        else:
            # The wait it names is exactly when enough of the window has expired.
            later = now + decision.retry_after + 1e-9  # (float rounding)
            assert sum(1 for t in accepted if later - t < 1.0) + amount <= 10
    assert window.max_in_window == 10 and window.violations > 0


def test_rolling_window_release_gives_the_slot_back() -> None:
    window = RollingWindow(2, 1.0)
    assert window.acquire(0.0).allowed
    assert window.acquire(0.1).allowed
    window.release(0.1)
    assert window.acquire(0.2).allowed
    assert not window.acquire(0.3).allowed


async def test_requests_per_key_are_limited_with_headers_and_retry_after(
    make_sandbox: MakeSandbox, http: Any
) -> None:
    sb = await make_sandbox(requests_per_minute=5, request_window=30.0)
    remaining = []
    for _ in range(5):
        async with http.get(f"{sb.cliqtel_url}/numbers", headers=auth(sb)) as resp:
            assert resp.status == 200
            assert resp.headers["X-RateLimit-Limit"] == "5"
            remaining.append(int(resp.headers["X-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    async with http.get(f"{sb.cliqtel_url}/numbers", headers=auth(sb)) as resp:
        assert resp.status == 429
        assert (await resp.json())["error"]["code"] == "rate_limited"
        assert 29 <= int(resp.headers["Retry-After"]) <= 30
    # The other key has its own window.
    async with http.get(f"{sb.cliqtel_url}/numbers", headers=auth(sb, read_only=True)) as resp:
        assert resp.status == 200
    stats = sb.state.snapshot()
    limits = stats["rate_limits"]["requests"]
    assert stats["rejections"]["429_requests"] == 1
    assert limits["max_in_window"] == 5 and limits["max_attempted_in_window"] == 6
    assert limits["violations"] == 1 and limits["exceeded"] is True


async def test_window_frees_only_when_the_oldest_request_is_a_window_old(
    make_sandbox: MakeSandbox, http: Any
) -> None:
    sb = await make_sandbox(requests_per_minute=3, request_window=0.5)
    start = time.monotonic()
    for _ in range(3):
        async with http.get(f"{sb.cliqtel_url}/numbers", headers=auth(sb)) as resp:
            assert resp.status == 200

    async def admitted() -> bool:
        async with http.get(f"{sb.cliqtel_url}/numbers", headers=auth(sb)) as resp:
            return resp.status == 200

    await poll(admitted)
    assert time.monotonic() - start >= 0.5


async def test_a_client_that_paces_itself_never_sees_a_429(make_sandbox: MakeSandbox, http: Any) -> None:
    sb = await make_sandbox(requests_per_minute=10, request_window=0.5, messages_per_second=100)
    for _ in range(15):
        resp = await send(http, sb)
        assert resp.status == 201
        await asyncio.sleep(0.5 / 10 * 1.2)
    limits = sb.state.snapshot()["rate_limits"]["requests"]
    assert limits["violations"] == 0 and limits["exceeded"] is False
    assert limits["max_attempted_in_window"] <= 10


async def test_messages_per_second_counts_batch_messages_and_refusal_spends_no_request(
    make_sandbox: MakeSandbox, http: Any
) -> None:
    sb = await make_sandbox(messages_per_second=3, message_window=30.0)
    url = f"{sb.clickatell_url}/rest/message"
    batch = {"text": "hi", "to": ["31612345001", "31612345002", "31612345003"]}
    async with http.post(url, json=batch, headers=clickatell_headers(sb)) as resp:
        assert resp.status == 202
        before = int(resp.headers["X-RateLimit-Remaining"])
    resp = await send(http, sb)
    assert resp.status == 429 and "Retry-After" in resp.headers
    async with http.get(f"{sb.cliqtel_url}/numbers", headers=auth(sb)) as resp:
        # The refused send spent no request: only this one is new since the batch.
        assert int(resp.headers["X-RateLimit-Remaining"]) == before - 1
    async with http.post(
        url,
        json={"text": "hi", "to": ["3161234500" + str(i) for i in range(4)]},
        headers=clickatell_headers(sb),
    ) as resp:
        assert resp.status == 400  # larger than any window can hold: not a 429 to retry forever
    stats = sb.state.snapshot()
    assert stats["rejections"]["429_messages"] == 1
    assert stats["rate_limits"]["messages"]["max_in_window"] == 3


# ---- message store and pagination -------------------------------------------------------------


async def test_list_filters_and_meta_pagination_newest_first(make_sandbox: MakeSandbox, http: Any) -> None:
    sb = await make_sandbox(messages_per_second=100)
    ids = []
    for i in range(7):
        resp = await send(http, sb, to=f"+3161234500{i % 2}", body=f"m{i}")
        assert resp.status == 201
    ids = [m.id for m in sb.state.store.messages]
    pages = []
    for page in (1, 2, 3):
        params = {"per_page": "3", "page": str(page), "direction": "outbound"}
        async with http.get(f"{sb.cliqtel_url}/messages", params=params, headers=auth(sb)) as resp:
            body = await resp.json()
        assert body["meta"] == {"total": 7, "page": page, "per_page": 3, "total_pages": 3}
        pages.extend(m["id"] for m in body["data"])
    assert pages == list(reversed(ids))
    async with http.get(
        f"{sb.cliqtel_url}/messages", params={"to": "+31612345001"}, headers=auth(sb)
    ) as resp:
        assert {m["to"] for m in (await resp.json())["data"]} == {"+31612345001"}
        assert (await resp.json())["meta"]["total"] == 3
    params = {"since": "2999-01-01T00:00:00Z"}
    async with http.get(f"{sb.cliqtel_url}/messages", params=params, headers=auth(sb)) as resp:
        assert (await resp.json())["meta"]["total"] == 0
    params = {"since": "2000-01-01T00:00:00+00:00", "direction": "inbound"}
    async with http.get(f"{sb.cliqtel_url}/messages", params=params, headers=auth(sb)) as resp:
        assert (await resp.json())["meta"]["total"] == 0
    async with http.get(f"{sb.cliqtel_url}/messages", params={"per_page": "101"}, headers=auth(sb)) as resp:
        assert resp.status == 422


async def test_laravel_pagination_setting_and_portal_list(make_sandbox: MakeSandbox, http: Any) -> None:
    sb = await make_sandbox(pagination="laravel", messages_per_second=100)
    for i in range(3):
        assert (await send(http, sb, body=f"m{i}")).status == 201
    for url in (f"{sb.cliqtel_url}/messages", f"{sb.portal_url}"):
        async with http.get(url, params={"per_page": "2", "page": "2"}, headers=auth(sb)) as resp:
            body = await resp.json()
        assert (body["current_page"], body["last_page"], body["total"], len(body["data"])) == (2, 2, 3, 1)
        assert body["next_page_url"] is None and "page=1" in body["prev_page_url"]


async def test_status_progresses_to_delivered_or_failed_with_signed_callbacks(
    make_sandbox: MakeSandbox, http: Any, receiver: Receiver
) -> None:
    sb = await make_sandbox(unreachable=["+31699999999"])
    assert (await send(http, sb, to="+31612345678", status_callback_url=receiver.url)).status == 201
    assert (await send(http, sb, to="+31699999999", status_callback_url=receiver.url)).status == 201
    await poll(lambda: len(receiver.received) == 6)
    by_to: dict[str, list[str]] = {}
    for raw, headers in receiver.received:
        expected = hmac.new(sb.settings.webhook_secret.encode(), raw, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers[SIGNATURE_HEADER], expected)
        event = json.loads(raw)
        assert event["event"] == "sms.status_updated"
        by_to.setdefault(event["data"]["to"], []).append(event["data"]["status"])
    # The guide's lifecycle: queued → sending → sent → delivered / failed.
    assert by_to == {
        "+31612345678": ["sending", "sent", "delivered"],
        "+31699999999": ["sending", "sent", "failed"],
    }
    async with http.get(f"{sb.cliqtel_url}/messages", params={"status": "failed"}, headers=auth(sb)) as resp:
        assert [m["to"] for m in (await resp.json())["data"]] == ["+31699999999"]


async def test_inbound_injection_posts_signed_sms_received(
    sandbox: RunningSandbox, http: Any, receiver: Receiver
) -> None:
    payload = {"from": "+31612345678", "body": "STOP", "url": receiver.url}
    async with http.post(f"{sandbox.url}/_sandbox/inbound", json=payload) as resp:
        assert (await resp.json())["delivered"] == 200
    raw, headers = receiver.received[0]
    assert headers[SIGNATURE_HEADER] == hmac.new(b"sandbox-webhook-secret", raw, hashlib.sha256).hexdigest()
    event = json.loads(raw)
    assert event["event"] == "sms.received"
    assert (event["data"]["from"], event["data"]["to"], event["data"]["body"]) == (
        "+31612345678",
        SENDER,
        "STOP",
    )
    params = {"direction": "inbound"}
    async with http.get(f"{sandbox.cliqtel_url}/messages", params=params, headers=auth(sandbox)) as resp:
        assert [m["body"] for m in (await resp.json())["data"]] == ["STOP"]


# ---- wallet ----------------------------------------------------------------------------------------


async def test_wallet_runs_out_with_402_insufficient_balance(make_sandbox: MakeSandbox, http: Any) -> None:
    sb = await make_sandbox(balance=0.02)
    assert (await send(http, sb)).status == 201
    resp = await send(http, sb, body="y" * 161)  # 2 segments: 0.016 > 0.012 left
    assert resp.status == 402
    assert sb.state.balance == pytest.approx(0.012)
    assert sb.state.stats.rejections["402"] == 1


# ---- faults ----------------------------------------------------------------------------------------


async def test_reply_lost_leaves_the_message_stored_and_debited(make_sandbox: MakeSandbox, http: Any) -> None:
    sb = await make_sandbox(reply_lost_rate=1.0)
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        await send(http, sb)
    assert sb.state.stats.accepted_messages == 1 and sb.state.stats.faults["reply_lost"] == 1
    assert sb.state.balance == pytest.approx(100 - 0.008)
    sb.state.configure({"reply_lost_rate": 0.0})
    async with http.get(f"{sb.cliqtel_url}/messages", headers=auth(sb)) as resp:
        assert (await resp.json())["meta"]["total"] == 1


async def test_faults_before_processing_store_nothing(make_sandbox: MakeSandbox, http: Any) -> None:
    sb = await make_sandbox()
    for rate, status in (("fault_500_rate", 500), ("fault_503_rate", 503)):
        sb.state.configure({"fault_500_rate": 0.0, "fault_503_rate": 0.0, rate: 1.0})
        assert (await send(http, sb)).status == status
    sb.state.configure({"fault_503_rate": 0.0, "reset_rate": 1.0})
    with pytest.raises(aiohttp.ClientConnectionError):
        await send(http, sb)
    # Faults are per route: the list route is not in fault_routes by default.
    async with http.get(f"{sb.cliqtel_url}/messages", headers=auth(sb)) as resp:
        assert resp.status == 200
    assert sb.state.stats.accepted_messages == 0 and len(sb.state.store) == 0
    assert sb.state.stats.faults == {"500": 1, "503": 1, "reset": 1}


async def test_slow_reply_arrives_after_the_delay(make_sandbox: MakeSandbox, http: Any) -> None:
    sb = await make_sandbox(slow_rate=1.0, slow_seconds=0.3)
    start = time.monotonic()
    assert (await send(http, sb)).status == 201
    assert time.monotonic() - start >= 0.3


async def test_faults_switch_on_per_route_at_runtime(sandbox: RunningSandbox, http: Any) -> None:
    changes = {"fault_routes": ["cliqtel.list"], "fault_503_rate": 1.0}
    async with http.post(f"{sandbox.url}/_sandbox/config", json=changes) as resp:
        assert resp.status == 200
    async with http.get(f"{sandbox.cliqtel_url}/messages", headers=auth(sandbox)) as resp:
        assert resp.status == 503
    assert (await send(http, sandbox)).status == 201


# ---- ClickSend ------------------------------------------------------------------------------------


async def test_clicksend_numbers_envelope_pagination_and_basic_auth(
    sandbox: RunningSandbox, http: Any
) -> None:
    good = {"Authorization": aiohttp.encode_basic_auth("sandbox", "sandbox-clicksend-key")}
    url = f"{sandbox.clicksend_url}/v3/numbers"
    async with http.get(url, params={"limit": "1", "page": "2"}, headers=good) as resp:
        body = await resp.json()
    assert (body["http_code"], body["response_code"]) == (200, "SUCCESS")
    assert (body["data"]["total"], body["data"]["current_page"], body["data"]["last_page"]) == (2, 2, 2)
    assert body["data"]["data"][0]["type"] == "VOICE"
    async with http.get(url, params={"q": "type:SMS"}, headers=good) as resp:
        assert [n["dedicated_number"] for n in (await resp.json())["data"]["data"]] == [SENDER]
    bad = {"Authorization": aiohttp.encode_basic_auth("sandbox", "nope")}
    async with http.get(url, headers=bad) as resp:
        assert resp.status == 401 and (await resp.json())["http_code"] == 401


# ---- control routes -------------------------------------------------------------------------------


async def test_stats_config_and_reset_routes(sandbox: RunningSandbox, http: Any) -> None:
    for _ in range(2):
        assert (await send(http, sandbox, to="+31611111111")).status == 201
    assert (await send(http, sandbox, to="+31622222222")).status == 201
    async with http.get(f"{sandbox.url}/_sandbox/stats", params={"per_recipient": "1"}) as resp:
        stats = await resp.json()
    assert stats["accepted_messages"] == 3 and stats["recipients"] == 2
    assert stats["duplicates"] == {"+31611111111": 2}
    assert stats["per_recipient"] == {"+31611111111": 2, "+31622222222": 1}
    assert stats["rate_limits"]["messages"]["violations"] == 0
    async with http.post(
        f"{sandbox.url}/_sandbox/config", json={"balance": 5, "requests_per_minute": 1}
    ) as resp:
        assert set((await resp.json())["changed"]) == {"balance", "requests_per_minute"}
    assert (await send(http, sandbox)).status == 429
    async with http.post(f"{sandbox.url}/_sandbox/config", json={"no_such_setting": 1}) as resp:
        assert resp.status == 400
    async with http.post(f"{sandbox.url}/_sandbox/reset") as resp:
        assert resp.status == 200
    assert sandbox.state.snapshot()["accepted_messages"] == 0 and sandbox.state.balance == 5
    assert (await send(http, sandbox)).status == 201


# ---- standalone -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_campaigner_sandbox_command_serves_until_sigterm(http: Any) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *["-m", "campaigner", "sandbox", "--port", str(port), "--rpm", "600"],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:

        async def answers() -> bool:
            try:
                async with http.get(f"http://127.0.0.1:{port}/_sandbox/stats") as resp:
                    return resp.status == 200
            except aiohttp.ClientConnectionError:
                return False

        await poll(answers, within=20)
        headers = {"Authorization": "Bearer 17|sandbox-full-access-key"}
        async with http.get(f"http://127.0.0.1:{port}/api/v1/sms/numbers", headers=headers) as resp:
            assert resp.headers["X-RateLimit-Limit"] == "600"
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0
        assert f"http://127.0.0.1:{port}/api/v1/sms" in out.decode()
        assert "17|sandbox-full-access-key" in out.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
