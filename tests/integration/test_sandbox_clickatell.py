"""The sandbox's Clickatell side over real HTTP on 127.0.0.1, held to Clickatell's "SMS REST API V2.0".

Each test names what the document shows (or, where it is silent, the behaviour the sandbox chose and
says so in `campaigner/sandbox/clickatell_routes.py`); extensions are switched on explicitly.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import aiohttp
import pytest
from aiohttp import web

from campaigner.sandbox import RunningSandbox, sign
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.test_sandbox import http, poll

__all__ = ["http", "poll"]  # the `http` fixture is used by name

FORM = "application/x-www-form-urlencoded"


def headers(sb: RunningSandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sb.settings.full_key}", "X-Version": "1", "Accept": "application/json"}


async def post(
    http: aiohttp.ClientSession, sb: RunningSandbox, payload: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{sb.clickatell_url}/rest/message", json=payload, headers=headers(sb)) as resp:
        return resp.status, await resp.json()


async def get(http: aiohttp.ClientSession, sb: RunningSandbox, path: str) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{sb.clickatell_url}{path}", headers=headers(sb)) as resp:
        return resp.status, await resp.json()


@pytest.fixture
async def sb(make_sandbox: MakeSandbox) -> AsyncIterator[RunningSandbox]:
    yield await make_sandbox()


# ---- send ------------------------------------------------------------------------------------------


async def test_a_batch_is_202_with_an_api_message_id_per_number(sb: RunningSandbox, http: Any) -> None:
    status, body = await post(http, sb, {"text": "Test Message", "to": ["2799900001", "2799900002"]})
    assert status == 202 and set(body) == {"data"}
    messages = body["data"]["message"]
    assert [(m["accepted"], m["to"]) for m in messages] == [(True, "2799900001"), (True, "2799900002")]
    assert all(len(m["apiMessageId"]) == 32 for m in messages)


async def test_there_is_no_lookup_by_client_message_id(sb: RunningSandbox, http: Any) -> None:
    # The document has "Query Message" by apiMessageId only: a GET on /rest/message is 405 / 160.
    status, body = await post(http, sb, {"text": "Hi", "to": ["2799900001"], "clientMessageId": "job-7"})
    assert status == 202
    async with http.get(
        f"{sb.clickatell_url}/rest/message", params={"clientMessageId": "job-7"}, headers=headers(sb)
    ) as resp:
        assert resp.status == 405 and (await resp.json())["error"]["code"] == "160"
    api_id = body["data"]["message"][0]["apiMessageId"]
    status, found = await get(http, sb, f"/rest/message/{api_id}")
    assert status == 200 and found["data"]["apiMessageId"] == api_id
    assert found["data"]["clientMessageId"] == "job-7"
    assert (await get(http, sb, f"/rest/message/{'0' * 32}"))[0] == 404


async def test_header_and_auth_errors(sb: RunningSandbox, http: Any) -> None:
    url = f"{sb.clickatell_url}/rest/account/balance"
    async with http.get(url, headers={"X-Version": "1"}) as resp:
        assert resp.status == 401 and (await resp.json())["error"]["code"] == "001"
    async with http.get(url, headers={"Authorization": f"Bearer {sb.settings.full_key}"}) as resp:
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "165"


async def test_coverage_answers_the_documented_shape(sb: RunningSandbox, http: Any) -> None:
    status, body = await get(http, sb, "/rest/coverage/27999123456")
    assert status == 200
    assert body == {"data": {"routable": True, "destination": "27999123456", "minimumCharge": 0.8}}


async def test_refused_numbers_carry_their_own_error_and_no_top_level_one(
    make_sandbox: MakeSandbox, http: Any
) -> None:
    sb = await make_sandbox(
        invalid_destinations=["+27830000105"],
        unroutable_prefixes=["+2783114"],
        blocked=["+27830000121"],
        opted_out=["+27830000122"],
        delisted=["+27830000128"],
        dnc=["+27830000250"],
    )
    numbers = ["27830000001", "27830000105", "27831140000", "27830000121", "27830000122"]
    numbers += ["27830000128", "27830000250", "+2799"]
    status, body = await post(http, sb, {"text": "Hi", "to": numbers})
    assert status == 207 and set(body) == {"data"}
    messages = body["data"]["message"]
    assert [m.get("error", {}).get("code") for m in messages] == [
        None, "105", "114", "121", "122", "128", "250", "105"
    ]  # fmt: skip
    refused = messages[1]
    assert refused["accepted"] is False and refused["to"] == "27830000105" and "apiMessageId" not in refused
    assert refused["error"]["description"] == "Invalid destination address"
    # Every number refused alike: the status of their code, still without a top-level error.
    for to, expected in (
        (["27830000105"], 400),
        (["27830000122"], 410),
        (["27830000121", "27830000128"], 410),
    ):
        status, body = await post(http, sb, {"text": "Hi", "to": to})
        assert (status, set(body)) == (expected, {"data"}), to
        assert all(not m["accepted"] for m in body["data"]["message"])
    # Refused with codes of different statuses: 207.
    status, body = await post(http, sb, {"text": "Hi", "to": ["27830000105", "27830000121"]})
    assert status == 207
    assert sb.state.stats.accepted_messages == 1
    # DNC is bypassed on request.
    status, _ = await post(http, sb, {"text": "Hi", "to": ["27830000250"], "bypassDNCCheck": 1})
    assert status == 202


async def test_errors_of_the_whole_request_are_top_level(make_sandbox: MakeSandbox, http: Any) -> None:
    sb = await make_sandbox(clickatell_max_batch=2)
    url = f"{sb.clickatell_url}/rest/message"
    good = {"text": "Hi", "to": ["27830000001"]}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"text": "Hi"}, 400, "101"),
        ({"text": "Hi", "to": ["27830000001", "27830000002", "27830000003"]}, 400, "101"),
        ({**good, "clientMessageId": "job 7"}, 400, "120"),
        ({**good, "from": "+441234"}, 400, "106"),
        ({**good, "maxMessageParts": 4}, 400, "101"),
        ({**good, "callback": 8}, 400, "101"),
        ({**good, "scheduledDeliveryTime": "next week"}, 400, "101"),
    ]
    for payload, status, code in cases:
        got_status, body = await post(http, sb, payload)
        assert (got_status, set(body), body["error"]["code"]) == (status, {"error"}, code), payload
        assert body["error"]["description"]
    async with http.post(
        url, data=b"{oops", headers={**headers(sb), "Content-Type": "application/json"}
    ) as r:
        assert r.status == 400 and (await r.json())["error"]["code"] == "100"
    async with http.post(url, data=b"text=Hi", headers={**headers(sb), "Content-Type": FORM}) as r:
        assert r.status == 400 and (await r.json())["error"]["code"] == "167"
    assert sb.state.stats.accepted_messages == 0


async def test_the_batch_limit_is_600_by_default(make_sandbox: MakeSandbox, http: Any) -> None:
    sb = await make_sandbox(messages_per_second=1000)
    numbers = [f"2783{i:07d}" for i in range(601)]
    status, body = await post(http, sb, {"text": "Hi", "to": numbers})
    assert (status, body["error"]["code"]) == (400, "101")
    status, body = await post(http, sb, {"text": "Hi", "to": numbers[:600]})
    assert status == 202 and len(body["data"]["message"]) == 600


# ---- parts and encoding ------------------------------------------------------------------------


async def test_max_message_parts_and_the_connection_default(make_sandbox: MakeSandbox, http: Any) -> None:
    sb = await make_sandbox()
    two_parts = {"text": "x" * 161, "to": ["27830000001"]}
    status, body = await post(http, sb, {**two_parts, "maxMessageParts": 1})
    assert (status, body["error"]["code"]) == (400, "113")
    assert body["error"]["description"].startswith("Maximum message parts exceeded")
    assert (await post(http, sb, {**two_parts, "maxMessageParts": 2}))[0] == 202
    four_parts = {"text": "x" * (153 * 3 + 1), "to": ["27830000001", "27830000002"]}
    status, body = await post(http, sb, four_parts)  # without maxMessageParts: the default, 3
    assert (status, body["error"]["code"]) == (400, "113")
    sb.state.configure({"clickatell_max_parts": 4})
    assert (await post(http, sb, four_parts))[0] == 202
    assert [m.segments for m in sb.state.store.messages] == [2, 4, 4]


async def test_the_unicode_flag_is_checked_against_the_text(sb: RunningSandbox, http: Any) -> None:
    status, body = await post(http, sb, {"text": "Привет", "to": ["27830000001"]})
    assert (status, body["error"]["code"]) == (400, "116")
    # GSM-7 text needs no flag (é, £, € and Greek capitals are GSM).
    assert (await post(http, sb, {"text": "Only €5 for café Δ", "to": ["27830000001"]}))[0] == 202
    assert (await post(http, sb, {"text": "П" * 71, "unicode": 1, "to": ["27830000001"]}))[0] == 202
    # UCS-2 asked for a GSM text: counted as UCS-2 (71 characters, 2 parts of 67).
    assert (await post(http, sb, {"text": "x" * 71, "unicode": "1", "to": ["27830000001"]}))[0] == 202
    assert [m.segments for m in sb.state.store.messages] == [1, 2, 2]


# ---- credits -----------------------------------------------------------------------------------


async def test_credits_are_a_wallet_of_their_own_charged_per_part_by_prefix(
    make_sandbox: MakeSandbox, http: Any
) -> None:
    sb = await make_sandbox(
        clickatell_credits=300.5,
        clickatell_credits_per_part={"27": 1.0, "+2799": 0.5},
        unroutable_prefixes=["999"],
    )
    assert await get(http, sb, "/rest/account/balance") == (200, {"data": {"balance": "300.50"}})
    payload = {"text": "y" * 161, "to": ["27999000001", "27830000001", "447700900123"]}
    assert (await post(http, sb, payload))[0] == 202
    assert [m.cost for m in sb.state.store.messages] == [1.0, 2.0, 1.6]
    assert await get(http, sb, "/rest/account/balance") == (200, {"data": {"balance": "295.90"}})
    assert sb.state.balance == pytest.approx(100.0)  # the EUR wallet is another one
    status, body = await get(http, sb, "/rest/coverage/27999123456")
    assert body["data"] == {"routable": True, "destination": "27999123456", "minimumCharge": 0.5}
    status, body = await get(http, sb, "/rest/coverage/9991234567")
    assert body["data"]["routable"] is False
    status, body = await post(http, sb, {"text": "Hi", "to": ["9991234567"]})
    assert (status, body["data"]["message"][0]["error"]["code"]) == (410, "114")


async def test_too_few_credits_is_402_with_301_and_nothing_sent(make_sandbox: MakeSandbox, http: Any) -> None:
    sb = await make_sandbox(clickatell_credits=1.0)
    status, body = await post(http, sb, {"text": "Hi", "to": ["27830000001", "27830000002"]})
    assert (status, set(body), body["error"]["code"]) == (402, {"error"}, "301")
    assert len(sb.state.store) == 0 and sb.state.credits == 1.0
    assert (await post(http, sb, {"text": "Hi", "to": ["27830000001"]}))[0] == 202
    assert await get(http, sb, "/rest/account/balance") == (200, {"data": {"balance": "0.20"}})


# ---- 130 ---------------------------------------------------------------------------------------


async def test_mt_limit_fault_names_its_end_and_stores_nothing(make_sandbox: MakeSandbox, http: Any) -> None:
    sb = await make_sandbox(mt_limit_rate=1.0, mt_limit_until=1767225600)
    status, body = await post(http, sb, {"text": "Hi", "to": ["27830000001"]})
    assert (status, set(body), body["error"]["code"]) == (429, {"error"}, "130")
    assert body["error"]["description"] == "Maximum MT limit exceeded until 1767225600"
    assert len(sb.state.store) == 0 and sb.state.stats.faults["130"] == 1
    # Only Clickatell knows 130: Cliqtel's send is untouched.
    payload = {"from": "+3197010203040", "to": "+31612345678", "body": "Hi"}
    cliqtel = {"Authorization": f"Bearer {sb.settings.full_key}"}
    async with http.post(f"{sb.cliqtel_url}/messages", json=payload, headers=cliqtel) as resp:
        assert resp.status == 201


# ---- schedule, stop, validity ------------------------------------------------------------------


def iso_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


async def status_of(http: Any, sb: RunningSandbox, api_id: str) -> str:
    return str((await get(http, sb, f"/rest/message/{api_id}"))[1]["data"]["messageStatus"])


async def test_stop_answers_006_for_a_scheduled_message_and_refunds(sb: RunningSandbox, http: Any) -> None:
    payload = {"text": "Later", "to": ["27999000001"], "scheduledDeliveryTime": iso_in(3600)}
    status, body = await post(http, sb, payload)
    assert status == 202
    api_id = body["data"]["message"][0]["apiMessageId"]
    assert await status_of(http, sb, api_id) == "011"
    assert sb.state.credits == pytest.approx(sb.settings.clickatell_credits - 0.8)
    async with http.delete(f"{sb.clickatell_url}/rest/message/{api_id}", headers=headers(sb)) as resp:
        assert resp.status == 200
        assert await resp.json() == {
            "data": {
                "messageStatus": "006",
                "description": "User cancelled message delivery",
                "apiMessageId": api_id,
            }
        }
    assert sb.state.credits == pytest.approx(sb.settings.clickatell_credits)
    async with http.delete(f"{sb.clickatell_url}/rest/message/{api_id}", headers=headers(sb)) as resp:
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "101"
    async with http.delete(f"{sb.clickatell_url}/rest/message/{'0' * 32}", headers=headers(sb)) as resp:
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "161"


async def test_a_message_already_sent_cannot_be_stopped(sb: RunningSandbox, http: Any) -> None:
    _, body = await post(http, sb, {"text": "Now", "to": ["27999000001"]})
    api_id = body["data"]["message"][0]["apiMessageId"]

    async def delivered() -> bool:
        return await status_of(http, sb, api_id) == "004"

    await poll(delivered)
    async with http.delete(f"{sb.clickatell_url}/rest/message/{api_id}", headers=headers(sb)) as resp:
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "101"


async def test_a_scheduled_message_waits_for_its_time_then_proceeds(sb: RunningSandbox, http: Any) -> None:
    status, body = await post(
        http, sb, {"text": "Soon", "to": ["27999000001"], "scheduledDeliveryTime": iso_in(0.5)}
    )
    api_id = body["data"]["message"][0]["apiMessageId"]
    assert await status_of(http, sb, api_id) == "011"
    sent_after = sb.state.store.messages[0].scheduled_at

    async def delivered() -> bool:
        return await status_of(http, sb, api_id) == "004"

    await poll(delivered)
    assert time.time() >= (sent_after or 0)
    status, body = await post(
        http, sb, {"text": "Far", "to": ["27999000001"], "scheduledDeliveryTime": iso_in(8 * 86400)}
    )
    assert (status, body["error"]["code"]) == (400, "101")


async def test_a_message_still_queued_after_its_validity_expires(
    make_sandbox: MakeSandbox, http: Any
) -> None:
    # validityPeriod is in minutes; here a minute lasts 50 ms, and a message waits 20 s to go out.
    sb = await make_sandbox(clickatell_minute_seconds=0.05, sent_delay=40.0)
    _, body = await post(http, sb, {"text": "Stale", "to": ["27999000001"], "validityPeriod": 1})
    api_id = body["data"]["message"][0]["apiMessageId"]

    async def expired() -> bool:
        return await status_of(http, sb, api_id) == "010"

    await poll(expired)
    _, body = await post(http, sb, {"text": "Fresh", "to": ["27999000001"]})  # default: 24 hours
    assert await status_of(http, sb, body["data"]["message"][0]["apiMessageId"]) == "002"


async def test_a_message_sent_on_but_not_received_within_its_validity_expires(
    make_sandbox: MakeSandbox, http: Any, receiver: Receiver
) -> None:
    sb = await make_sandbox(
        clickatell_callback_url=receiver.url, clickatell_minute_seconds=0.2, delivered_delay=40.0
    )
    await post(http, sb, {"text": "Late", "to": ["27999000001"], "validityPeriod": 1, "callback": 5})
    await poll(lambda: len(receiver.requests) == 2)
    assert [f["status"] for f in receiver.fields()] == ["003", "010"]


async def test_a_stop_and_a_schedule_send_their_callbacks(
    make_sandbox: MakeSandbox, http: Any, receiver: Receiver
) -> None:
    sb = await make_sandbox(clickatell_callback_url=receiver.url)
    payload = {"text": "Later", "to": ["27999000001"], "scheduledDeliveryTime": iso_in(3600), "callback": 5}
    _, body = await post(http, sb, payload)
    api_id = body["data"]["message"][0]["apiMessageId"]
    async with http.delete(f"{sb.clickatell_url}/rest/message/{api_id}", headers=headers(sb)) as resp:
        assert resp.status == 200
    await poll(lambda: len(receiver.requests) == 2)
    assert sorted(f["status"] for f in receiver.fields()) == ["006", "011"]


# ---- status callbacks --------------------------------------------------------------------------


class Receiver:
    """A real HTTP server on a free port recording every request to /hook (any method)."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(Recorded(request.method, request.query_string, dict(request.headers), body))
        return web.Response(text="ok")

    def fields(self) -> list[dict[str, str]]:
        """Each request's form or query fields."""
        return [r.fields() for r in self.requests]


@dataclass
class Recorded:
    method: str
    query: str
    headers: dict[str, str]
    body: bytes

    def fields(self) -> dict[str, str]:
        raw = self.query if self.method == "GET" else self.body.decode("ascii")
        return dict(parse_qsl(raw, keep_blank_values=True))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_route("*", "/hook", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield rec
    await runner.cleanup()


async def test_callbacks_follow_the_callback_bitmask(
    make_sandbox: MakeSandbox, http: Any, receiver: Receiver
) -> None:
    sb = await make_sandbox(clickatell_callback_url=receiver.url, unreachable=["+27999000009"])
    sends = [
        ("27999000001", None),  # absent: no callback (the document's default, 0)
        ("27999000002", 0),
        ("27999000003", 1),  # intermediate: 003
        ("27999000004", 2),  # final: 004
        ("27999000009", 4),  # errors only: 007 for an unreachable number
        ("27999000005", 7),  # all: 003, 004
    ]
    for to, callback in sends:
        extra = {} if callback is None else {"callback": callback}
        assert (await post(http, sb, {"text": "Hi", "to": [to], **extra}))[0] == 202
    # The sandbox counts a callback once its answer is back: after the receiver saw it.
    await poll(lambda: len(receiver.requests) == 5 and sb.state.stats.callbacks_sent == 5)
    for message in sb.state.store.messages:  # every message has settled: no callback is still due
        assert message.status in ("delivered", "failed")
    got = sorted((f["to"], f["status"]) for f in receiver.fields())
    assert got == [
        ("27999000003", "003"),
        ("27999000004", "004"),
        ("27999000005", "003"),
        ("27999000005", "004"),
        ("27999000009", "007"),
    ]
    assert sb.state.stats.callbacks_sent == 5


async def test_the_default_callback_is_a_legacy_form_post_with_the_url_as_configured(
    make_sandbox: MakeSandbox, http: Any, receiver: Receiver
) -> None:
    url = receiver.url.replace("http://", "http://hooks:pa%40ss@") + "?token=t0ken"
    sb = await make_sandbox(clickatell_callback_url=url)
    payload = {"text": "Hi", "to": ["27999000001"], "clientMessageId": "job-7", "callback": 2}
    _, body = await post(http, sb, payload)
    api_id = body["data"]["message"][0]["apiMessageId"]
    await poll(lambda: len(receiver.requests) == 1)
    [request] = receiver.requests
    assert request.method == "POST" and request.query == "token=t0ken"
    assert request.headers["Content-Type"] == FORM
    assert request.headers["Authorization"] == aiohttp.encode_basic_auth("hooks", "pa@ss")
    assert "X-Cliqtel-Signature" not in request.headers
    fields = request.fields()
    assert set(fields) == {"api_id", "apiMsgId", "cliMsgId", "to", "timestamp", "from", "status", "charge"}
    assert (fields["apiMsgId"], fields["cliMsgId"], fields["to"], fields["from"]) == (
        api_id,
        "job-7",
        "27999000001",
        "3197010203040",
    )
    assert (fields["status"], fields["charge"], fields["api_id"]) == (
        "004",
        "0.800000",
        sb.settings.clickatell_api_id,
    )
    assert abs(int(fields["timestamp"]) - time.time()) < 60


async def test_get_and_json_callback_shapes(make_sandbox: MakeSandbox, http: Any, receiver: Receiver) -> None:
    sb = await make_sandbox(
        clickatell_callback_url=receiver.url + "?token=t0ken", clickatell_callback_shape="get"
    )
    _, body = await post(
        http, sb, {"text": "Hi", "to": ["27999000001"], "clientMessageId": "7", "callback": 2}
    )
    await poll(lambda: len(receiver.requests) == 1)
    [got] = receiver.requests
    assert got.method == "GET" and got.body == b""
    assert got.fields()["token"] == "t0ken" and got.fields()["status"] == "004"
    assert got.fields()["cliMsgId"] == "7"
    sb.state.configure({"clickatell_callback_shape": "json"})
    _, body = await post(
        http, sb, {"text": "Hi", "to": ["27999000002"], "clientMessageId": "8", "callback": 2}
    )
    api_id = body["data"]["message"][0]["apiMessageId"]
    await poll(lambda: len(receiver.requests) == 2)
    posted = receiver.requests[1]
    assert posted.method == "POST" and posted.headers["Content-Type"] == "application/json"
    data = json.loads(posted.body)["data"]
    assert set(data) == {"apiMessageId", "clientMessageId", "to", "from", "timestamp"} | {
        "messageStatus",
        "statusDescription",
        "charge",
    }
    assert (data["apiMessageId"], data["clientMessageId"], data["to"], data["messageStatus"]) == (
        api_id,
        "8",
        "27999000002",
        "004",
    )
    assert data["charge"] == 0.8 and abs(data["timestamp"] / 1000 - time.time()) < 60


async def test_the_signature_is_an_extension_off_by_default(
    make_sandbox: MakeSandbox, http: Any, receiver: Receiver
) -> None:
    sb = await make_sandbox(clickatell_callback_url=receiver.url, clickatell_callback_signed=True)
    await post(http, sb, {"text": "Hi", "to": ["27999000001"], "callback": 2})
    await poll(lambda: len(receiver.requests) == 1)
    [got] = receiver.requests
    assert got.headers["X-Cliqtel-Signature"] == sign(sb.settings.webhook_secret, got.body)


# ---- two-way (MO) ------------------------------------------------------------------------------


async def reply(http: Any, sb: RunningSandbox, sender: str, body: str, **extra: Any) -> dict[str, Any]:
    async with http.post(f"{sb.url}/_sandbox/inbound", json={"from": sender, "body": body, **extra}) as resp:
        assert resp.status == 200
        result: dict[str, Any] = await resp.json()
        return result


async def test_a_reply_reaches_the_mo_url_only_for_a_message_sent_with_mo(
    make_sandbox: MakeSandbox, http: Any, receiver: Receiver
) -> None:
    sb = await make_sandbox(clickatell_mo_url=receiver.url + "?token=t0ken")
    assert (await post(http, sb, {"text": "Reply STOP to stop", "to": ["27999000001"], "mo": 1}))[0] == 202
    assert (await post(http, sb, {"text": "One way", "to": ["27999000002"]}))[0] == 202
    assert [m.mo for m in sb.state.store.messages] == [True, False]
    answered = await reply(http, sb, "+27999000001", "STOP")
    assert (answered["api"], answered["delivered"]) == ("clickatell", 200)
    ignored = await reply(http, sb, "+27999000002", "STOP")
    assert ignored["delivered"] is None and "mo=1" in ignored["reason"]
    [got] = receiver.requests
    assert got.method == "POST" and got.query == "token=t0ken" and got.headers["Content-Type"] == FORM
    fields = got.fields()
    assert set(fields) == {"api_id", "moMsgId", "from", "to", "timestamp", "text", "charset", "udh"}
    assert (fields["from"], fields["to"], fields["text"], fields["charset"]) == (
        "27999000001",
        "3197010203040",
        "STOP",
        "ISO-8859-1",
    )
    assert len(fields["moMsgId"]) == 32
    datetime.strptime(fields["timestamp"], "%Y-%m-%d %H:%M:%S")


async def test_mo_in_json_and_a_text_outside_latin_1(
    make_sandbox: MakeSandbox, http: Any, receiver: Receiver
) -> None:
    sb = await make_sandbox(clickatell_mo_url=receiver.url)
    await post(http, sb, {"text": "Hi", "to": ["27999000001"], "mo": 1})
    await reply(http, sb, "+27999000001", "Стоп")
    raw = receiver.requests[0].body.decode("ascii").split("&")
    text = next(p for p in raw if p.startswith("text=")).removeprefix("text=")
    assert unquote_to_bytes(text).decode("utf-16-be") == "Стоп" and "charset=UTF-16BE" in raw
    sb.state.configure({"clickatell_callback_shape": "json"})
    await reply(http, sb, "+27999000001", "stop")
    data = json.loads(receiver.requests[1].body)["data"]
    assert set(data) == {"moMessageId", "from", "to", "text", "timestamp", "charset"}
    assert (data["from"], data["to"], data["text"]) == ("27999000001", "3197010203040", "stop")


async def test_an_explicit_url_receives_the_reply_whatever_was_sent(
    sb: RunningSandbox, http: Any, receiver: Receiver
) -> None:
    # The control route's `url` names the test's receiver: no message, no mo=1 needed.
    result = await reply(http, sb, "+27999000001", "STOP", url=receiver.url, api="clickatell")
    assert result["delivered"] == 200 and receiver.fields()[0]["text"] == "STOP"
