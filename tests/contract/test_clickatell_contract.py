"""Clickatell's contract, pinned to its document, independent of our sandbox.

Each send, stop, balance and coverage case is a literal exchange from Clickatell's "SMS REST API
V2.0" (sections 3 to 6): the request the client must make and the reply it must understand. Error
cases use the document's status and error codes (sections 9 and 10); the document prints no error
body, so both usual shapes of one are served. The document fixes no callback format: the callback
cases are the REST v2 JSON names and the legacy form and query names Clickatell is known to send
(`apiMsgId`, `cliMsgId`, `moMsgId`, ...), each accepted. The stub serves exactly the reply of the
case and records the request; it knows nothing else of Clickatell.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from campaigner.config import ProviderConfig
from campaigner.model.provider import (
    DeliveryStatus,
    InboundEvent,
    OutboundMessage,
    Outcome,
    StatusEvent,
    WebhookRejected,
    WebhookRequest,
)
from campaigner.providers.clickatell import ClickatellProvider
from tests.contract.stub import Stub

TOKEN = "4ZnXsl.LcQrDI4ZHWBt6_J1KLqNZVV7Tfg9KK25nd1EYaQ7SPP2mmLkODKhzJ1S"  # section 2.2's example
CALLBACK_TOKEN = "callback-token-of-our-own"

# Section 3.1's reply, as printed.
ACCEPTED_TWO = {
    "data": {
        "message": [
            {"accepted": True, "to": "2799900001", "apiMessageId": "a55b8f8d56f33440e993aa614c68bf8b"},
            {"accepted": True, "to": "2799900002", "apiMessageId": "7f1d32762f6db11f3b7d2aaca2aaf362"},
        ]
    }
}


def config(stub: Stub, **overrides: Any) -> ProviderConfig:
    return ProviderConfig(
        type="clickatell",
        base_url=stub.url,
        api_key_env="CONTRACT_CLICKATELL_TOKEN",
        callback_token_env="CONTRACT_CLICKATELL_CALLBACK",
        **overrides,
    )


@pytest.fixture
async def client(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ClickatellProvider]:
    monkeypatch.setenv("CONTRACT_CLICKATELL_TOKEN", TOKEN)
    monkeypatch.setenv("CONTRACT_CLICKATELL_CALLBACK", CALLBACK_TOKEN)
    provider = ClickatellProvider(config(stub))
    try:
        yield provider
    finally:
        await provider.close()


def two(body: str = "Test Message") -> list[OutboundMessage]:
    return [OutboundMessage(7, "+2799900001", body), OutboundMessage(8, "+2799900002", body)]


async def test_send_makes_the_documented_request_and_reads_the_202(
    stub: Stub, client: ClickatellProvider
) -> None:
    stub.reply = (202, ACCEPTED_TWO)
    results = await client.send(two())
    assert [(r.ref, r.outcome, r.provider_id) for r in results] == [
        (7, Outcome.ACCEPTED, "a55b8f8d56f33440e993aa614c68bf8b"),
        (8, Outcome.ACCEPTED, "7f1d32762f6db11f3b7d2aaca2aaf362"),
    ]
    [sent] = stub.requests
    assert (sent["method"], sent["path"]) == ("POST", "/rest/message")
    headers = sent["headers"]
    assert headers["X-Version"] == "1" and headers["Accept"] == "application/json"
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    body = sent["json"]
    assert (body["text"], body["to"]) == ("Test Message", ["2799900001", "2799900002"])
    # Section 8's optional parameters: our own key of the request, the parts we priced, every
    # status change reported; no `unicode` for a GSM text, no `mo` for a one-way sender.
    assert body["clientMessageId"] == "r7" and " " not in body["clientMessageId"]  # error 120
    assert (body["maxMessageParts"], body["callback"]) == (1, 7)
    assert "unicode" not in body and "mo" not in body and "validityPeriod" not in body


async def test_optional_parameters_of_section_8(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTRACT_CLICKATELL_TOKEN", TOKEN)
    provider = ClickatellProvider(config(stub, two_way=True, callback=6, sender="+27831234567"))
    stub.reply = (202, {"data": {"message": [{"accepted": True, "to": "2799900001", "apiMessageId": "x1"}]}})
    try:
        await provider.send([OutboundMessage(42, "+2799900001", "Привет " * 30, segments=3, valid_for=1800)])
    finally:
        await provider.close()
    body = stub.requests[0]["json"]
    assert body["clientMessageId"] == "42"  # one number: the job's own id
    assert (body["unicode"], body["mo"], body["callback"], body["from"]) == (1, 1, 6, "27831234567")
    assert (body["maxMessageParts"], body["validityPeriod"]) == (3, 30)  # minutes


@pytest.mark.parametrize(
    "error",
    [
        lambda code, text: {"error": {"code": code, "description": text}},
        lambda code, text: {"errorCode": int(code), "error": text},
    ],
    ids=["error-object", "errorCode-field"],
)
@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        (401, "001", Outcome.ACCOUNT),  # authentication failed
        (401, "007", Outcome.ACCOUNT),  # IP lockdown violation
        (400, "101", Outcome.ACCOUNT),  # invalid or missing parameters: ours, for every job
        (400, "102", Outcome.ACCOUNT),  # invalid user data header: ours
        (400, "113", Outcome.ACCOUNT),  # maximum message parts exceeded: pause, never reject all
        (400, "116", Outcome.ACCOUNT),  # invalid unicode data: our encoding
        (400, "117", Outcome.ACCOUNT),  # a code the document does not list: pause for a human
        (400, "123", Outcome.ACCOUNT),  # invalid sender id
        (402, "301", Outcome.FUNDS),  # no credit left
        (503, "901", Outcome.TRANSIENT),  # internal error, please retry
    ],
)
async def test_documented_error_codes_of_a_send(
    stub: Stub, client: ClickatellProvider, error: Any, status: int, code: str, outcome: Outcome
) -> None:
    stub.reply = (status, error(code, "as documented"))
    results = await client.send(two())
    assert [(r.outcome, r.code) for r in results] == [(outcome, code)] * 2


@pytest.mark.parametrize(
    ("status", "outcome"), [(503, Outcome.TRANSIENT), (500, Outcome.AMBIGUOUS), (502, Outcome.AMBIGUOUS)]
)
async def test_a_5xx_without_a_code(
    stub: Stub, client: ClickatellProvider, status: int, outcome: Outcome
) -> None:
    # 503 "a temporary error has occurred - please retry"; any other 5xx may have been processed:
    # its callback will say (never a second send on a guess).
    stub.reply = (status, {})
    assert {r.outcome for r in await client.send(two())} == {outcome}


async def test_per_message_codes_come_first_whatever_the_status(
    stub: Stub, client: ClickatellProvider
) -> None:
    refused_105 = {
        "accepted": False,
        "to": "2799900002",
        "error": {"code": "105", "description": "Invalid destination address"},
    }
    stub.reply = (400, {"data": {"message": [ACCEPTED_TWO["data"]["message"][0], refused_105]}})
    first, second = await client.send(two())
    assert first.outcome is Outcome.ACCEPTED  # a 400 for one number does not pause the campaign
    assert (second.outcome, second.code, second.opt_out) == (Outcome.RECIPIENT, "105", False)
    opted_out = {
        "accepted": False,
        "to": "2799900001",
        "error": {"code": "122", "description": "Destination mobile opted out"},
    }
    blocked = {
        "accepted": False,
        "to": "2799900002",
        "error": {"code": 121, "description": "Destination mobile number blocked"},
    }
    stub.reply = (410, {"data": {"message": [opted_out, blocked]}})
    assert [(r.outcome, r.code, r.opt_out) for r in await client.send(two())] == [
        (Outcome.RECIPIENT, "122", True),
        (Outcome.RECIPIENT, "121", True),
    ]
    # A top-level error applies only to the messages without a result of their own.
    stub.reply = (
        207,
        {"data": {"message": [opted_out]}, "error": {"code": "114", "description": "Cannot route message"}},
    )
    assert [(r.outcome, r.code) for r in await client.send(two())] == [
        (Outcome.RECIPIENT, "122"),
        (Outcome.RECIPIENT, "114"),
    ]


async def test_130_waits_until_the_given_time(stub: Stub, client: ClickatellProvider) -> None:
    until = int(time.time()) + 3600
    text = f"Maximum MT limit exceeded until {until}"
    stub.reply = (400, {"error": {"code": "130", "description": text}})
    results = await client.send(two())
    assert {r.outcome for r in results} == {Outcome.THROTTLED}
    assert all(3590 <= (r.retry_after or 0) <= 3600 for r in results)


async def test_stop_message_as_documented(stub: Stub, client: ClickatellProvider) -> None:
    stub.reply = (
        200,
        {
            "data": {
                "messageStatus": "006",
                "description": "User cancelled message delivery",
                "apiMessageId": "360586640fe9846954897dffe6c13dfc",
            }
        },
    )
    assert await client.stop("360586640fe9846954897dffe6c13dfc") is DeliveryStatus.UNDELIVERED
    [request] = stub.requests
    assert (request["method"], request["path"]) == (
        "DELETE",
        "/rest/message/360586640fe9846954897dffe6c13dfc",
    )
    assert request["headers"]["X-Version"] == "1"


async def test_balance_in_credits_as_documented(stub: Stub, client: ClickatellProvider) -> None:
    stub.reply = (200, {"data": {"balance": "300.50"}})
    balance = await client.balance()
    assert balance is not None and (balance.amount, balance.currency) == (Decimal("300.50"), "credits")
    assert stub.requests[0]["path"] == "/rest/account/balance"


async def test_coverage_as_documented(stub: Stub, client: ClickatellProvider) -> None:
    stub.reply = (200, {"data": {"routable": True, "destination": "27999123456", "minimumCharge": 0.8}})
    coverage = await client.coverage("+27999123456")
    assert (coverage.routable, coverage.destination, coverage.minimum_charge) == (
        True,
        "27999123456",
        Decimal("0.8"),
    )
    assert stub.requests[0]["path"] == "/rest/coverage/27999123456"


def _hook(
    body: bytes = b"", *, query: dict[str, str] | None = None, method: str = "POST", content_type: str = ""
) -> WebhookRequest:
    headers = {"Content-Type": content_type} if content_type else {}
    fields = {"token": CALLBACK_TOKEN, **(query or {})}
    return WebhookRequest(body, headers, method, fields, urlencode(fields))


LEGACY_STATUS = {
    "api_id": "3523864",
    "apiMsgId": "a55b8f8d56f33440e993aa614c68bf8b",
    "cliMsgId": "r7",
    "to": "2799900002",
    "timestamp": "1760000000",
    "from": "27831234567",
    "status": "004",
    "charge": "0.800000",
}


def test_status_callbacks_in_every_shape(client: ClickatellProvider) -> None:
    form = urlencode(LEGACY_STATUS).encode()
    rest_json = {
        "data": {
            "apiMessageId": "a55b8f8d56f33440e993aa614c68bf8b",
            "clientMessageId": "r7",
            "to": "2799900002",
            "timestamp": 1760000000000,
            "messageStatus": "004",
            "charge": 0.8,
        }
    }
    shapes = [
        _hook(form, content_type="application/x-www-form-urlencoded"),
        _hook(query=LEGACY_STATUS, method="GET"),
        _hook(json.dumps(rest_json).encode(), content_type="application/json"),
    ]
    for request in shapes:
        [event] = client.parse_status_webhook(request)
        assert isinstance(event, StatusEvent)
        assert (event.provider_id, event.status) == (
            "a55b8f8d56f33440e993aa614c68bf8b",
            DeliveryStatus.DELIVERED,
        )
        # The batch key and the number name the job whose reply may have been lost.
        assert (event.ref, event.ref_e164) == (7, "+2799900002")
        assert event.occurred_at is not None and int(event.occurred_at.timestamp()) == 1760000000


def test_mo_callbacks_in_every_shape(client: ClickatellProvider) -> None:
    legacy = {
        "api_id": "3523864",
        "moMsgId": "d2b66016178dda7c3b4a701056797755",
        "from": "27831234567",
        "to": "447860024227",
        "timestamp": "2015-02-04 09:30:36",
        "text": "Stop",
        "charset": "ISO-8859-1",
        "udh": "",
    }
    rest_json = {
        "data": {
            "moMessageId": "d2b66016178dda7c3b4a701056797755",
            "from": "27831234567",
            "to": "447860024227",
            "text": "Stop",
            "timestamp": "2015-02-04T09:30:36Z",
        }
    }
    shapes = [
        _hook(urlencode(legacy).encode(), content_type="application/x-www-form-urlencoded"),
        _hook(query=legacy, method="GET"),
        _hook(json.dumps(rest_json).encode(), content_type="application/json"),
    ]
    for request in shapes:
        [event] = client.parse_inbound_webhook(request)
        assert isinstance(event, InboundEvent)
        assert (event.provider_id, event.from_number, event.to_number, event.body) == (
            "d2b66016178dda7c3b4a701056797755",
            "+27831234567",
            "+447860024227",
            "Stop",
        )
        assert event.received_at is not None and event.received_at.isoformat() == "2015-02-04T09:30:36+00:00"
    # A UTF-16BE text: as hex digits of its code units, or as its bytes, percent-encoded.
    utf16 = {**legacy, "charset": "UTF-16BE", "text": "Stop".encode("utf-16-be").hex() + "00e9"}
    [event] = client.parse_inbound_webhook(_hook(query=utf16, method="GET"))
    assert isinstance(event, InboundEvent) and event.body == "Stopé"
    fields = {**legacy, "charset": "UTF-16BE", "token": CALLBACK_TOKEN}
    fields.pop("text")
    query = urlencode(fields) + "&text=" + "".join(f"%{b:02X}" for b in "Стоп".encode("utf-16-be"))
    [event] = client.parse_inbound_webhook(WebhookRequest(b"", {}, "GET", {"token": CALLBACK_TOKEN}, query))
    assert isinstance(event, InboundEvent) and event.body == "Стоп"
    latin = urlencode({**legacy, "text": "Arrêt"}, encoding="latin-1").encode()
    [event] = client.parse_inbound_webhook(_hook(latin, content_type="application/x-www-form-urlencoded"))
    assert isinstance(event, InboundEvent) and event.body == "Arrêt"


def test_callbacks_are_authenticated_by_token_or_basic_auth(
    stub: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTRACT_CLICKATELL_TOKEN", TOKEN)
    monkeypatch.setenv("CONTRACT_CLICKATELL_CALLBACK", CALLBACK_TOKEN)
    monkeypatch.setenv("CONTRACT_CLICKATELL_PASSWORD", "a password of its own")
    provider = ClickatellProvider(
        config(stub, callback_username="clickatell", callback_password_env="CONTRACT_CLICKATELL_PASSWORD")
    )
    form = urlencode(LEGACY_STATUS).encode()
    basic = {"Authorization": "Basic " + base64.b64encode(b"clickatell:a password of its own").decode()}
    accepted = [
        WebhookRequest(form, {}, "POST", {"token": CALLBACK_TOKEN}),
        WebhookRequest(form, basic, "POST", {}),
    ]
    for request in accepted:
        assert len(provider.parse_status_webhook(request)) == 1
    wrong_basic = {"Authorization": "Basic " + base64.b64encode(b"clickatell:" + TOKEN.encode()).decode()}
    refused = [
        WebhookRequest(form, {}, "POST", {}),
        WebhookRequest(form, {}, "POST", {"token": "guess"}),
        WebhookRequest(form, {}, "POST", {"token": TOKEN}),  # the API key is no callback token
        WebhookRequest(form, wrong_basic, "POST", {}),
        WebhookRequest(form, {"X-Cliqtel-Signature": "0" * 64}, "POST", {}),  # Clickatell signs nothing
    ]
    for request in refused:
        with pytest.raises(WebhookRejected) as caught:
            provider.parse_status_webhook(request)
        assert caught.value.status == 401


def test_without_any_callback_secret_every_callback_is_refused(
    stub: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTRACT_CLICKATELL_TOKEN", TOKEN)
    account = ProviderConfig(type="clickatell", base_url=stub.url, api_key_env="CONTRACT_CLICKATELL_TOKEN")
    provider = ClickatellProvider(account.model_copy(update={"callback_token_env": ""}))
    with pytest.raises(WebhookRejected, match="callback_token_env") as caught:
        provider.parse_status_webhook(WebhookRequest(urlencode(LEGACY_STATUS).encode(), {}, "POST", {}))
    assert caught.value.status == 401


def test_the_defaults_are_clickatells(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKATELL_API_KEY", TOKEN)
    account = ProviderConfig(type="clickatell")
    assert (account.base_url, account.api_key_env, account.callback_token_env) == (
        "https://api.clickatell.com",
        "CLICKATELL_API_KEY",
        "CLICKATELL_CALLBACK_TOKEN",
    )
    assert (account.messages_per_second, account.recipients_per_request, account.max_message_parts) == (
        100,
        200,
        3,
    )
    assert ClickatellProvider(account).max_recipients_per_request == 200
    assert (
        ClickatellProvider(
            ProviderConfig(type="clickatell", recipients_per_request=900)
        ).max_recipients_per_request
        == 600
    )
