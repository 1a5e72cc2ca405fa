"""Cliqtel's contract, pinned to its documents, independent of our sandbox.

Each case is a literal exchange from Cliqtel's "SMS API Reference" (send, list, get, numbers,
webhooks, error handling), its "API Reference" (error envelope, 403 insufficient_scope, 429 and
Retry-After) and the guide "How to Send & Receive SMS with Cliqtel" (the portal's send and its
envelope): the request the client must make and the reply it must understand. The stub serves
exactly the reply of the case and records the request; it knows nothing else of Cliqtel. A client
and a sandbox that agree with each other but not with the documents fail here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from campaigner.config import ProviderConfig
from campaigner.model.provider import (
    DeliveryStatus,
    OutboundMessage,
    Outcome,
    WebhookRejected,
    WebhookRequest,
)
from campaigner.providers.cliqtel import CliqtelProvider
from tests.contract.stub import Stub

KEY = "17|aBcDeFgHiJkLmNoP"  # the documented shape: an id, a pipe, the secret
SECRET = "application-key-for-webhooks"
SENDER = "+16625163513"

# The reference's 201 reply to POST /messages, as printed.
SENT_42 = {
    "data": {
        "id": 42,
        "from": "+16625163513",
        "to": "+31612345678",
        "body": "Your order #1234 has shipped!",
        "direction": "outbound",
        "status": "queued",
        "segments": 1,
        "cost": 0.008,
        "currency": "EUR",
        "carrier": "didfarm",
        "created_at": "2026-04-03T10:15:30+00:00",
    }
}


@pytest.fixture
async def client(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[CliqtelProvider]:
    monkeypatch.setenv("CONTRACT_CLIQTEL_KEY", KEY)
    monkeypatch.setenv("CONTRACT_CLIQTEL_SECRET", SECRET)
    config = ProviderConfig(
        type="cliqtel",
        base_url=f"{stub.url}/api/v1/sms",
        api_key_env="CONTRACT_CLIQTEL_KEY",
        webhook_secret_env="CONTRACT_CLIQTEL_SECRET",
        sender=SENDER,
    )
    provider = CliqtelProvider(config, status_callback_url="https://yourapp.com/webhooks/sms")
    try:
        yield provider
    finally:
        await provider.close()


def message(ref: int = 1, body: str = "Your order #1234 has shipped!") -> OutboundMessage:
    return OutboundMessage(ref, "+31612345678", body)


async def test_send_makes_the_documented_request_and_reads_the_201(
    stub: Stub, client: CliqtelProvider
) -> None:
    stub.reply = (201, SENT_42, {})
    [result] = await client.send([message()])
    assert (result.outcome, result.provider_id) == (Outcome.ACCEPTED, "42")
    [request] = stub.requests
    assert (request["method"], request["path"]) == ("POST", "/api/v1/sms/messages")
    assert request["authorization"] == f"Bearer {KEY}"  # the whole token, id and secret
    assert request["json"] == {
        "from": "+16625163513",
        "to": "+31612345678",
        "body": "Your order #1234 has shipped!",
        "status_callback_url": "https://yourapp.com/webhooks/sms",
    }


ERROR_CASES = [
    # Error Handling table of the SMS API Reference, in its envelope.
    (
        401,
        {"error": {"code": "unauthenticated", "message": "Missing or invalid API key"}},
        {},
        Outcome.ACCOUNT,
    ),
    (404, {"error": {"code": "not_found", "message": "Message or number not found"}}, {}, Outcome.ACCOUNT),
    (
        422,
        {
            "error": {
                "code": "number_not_found",
                "message": "From number not found, inactive, or SMS not enabled",
            }
        },
        {},
        Outcome.ACCOUNT,
    ),
    (
        422,
        {"error": {"code": "validation_error", "message": "Missing or invalid request parameters"}},
        {},
        Outcome.ACCOUNT,
    ),
    (
        429,
        {"error": {"code": "rate_limited", "message": "Too many requests"}},
        {"Retry-After": "7"},
        Outcome.THROTTLED,
    ),
    (
        500,
        {"error": {"code": "send_failed", "message": "Carrier rejected the message"}},
        {},
        Outcome.AMBIGUOUS,
    ),
    (
        402,
        {"error": {"code": "insufficient_balance", "message": "Wallet balance too low to send this message"}},
        {},
        Outcome.FUNDS,
    ),
    # The API Reference: least-privilege keys.
    (
        403,
        {"error": "insufficient_scope", "message": "This key may not call this endpoint"},
        {},
        Outcome.ACCOUNT,
    ),
]


@pytest.mark.parametrize(("status", "body", "headers", "outcome"), ERROR_CASES)
async def test_documented_errors_of_a_send(
    stub: Stub, client: CliqtelProvider, status: int, body: Any, headers: dict[str, str], outcome: Outcome
) -> None:
    stub.reply = (status, body, headers)
    [result] = await client.send([message()])
    assert result.outcome is outcome
    if outcome is Outcome.THROTTLED:
        assert result.retry_after == 7
    if outcome is Outcome.AMBIGUOUS:
        assert result.if_absent is Outcome.RECIPIENT  # looked up; rejected if Cliqtel has none
    assert KEY.split("|")[1] not in (result.message or "")


async def test_portal_send_and_its_envelope(
    stub: Stub, client: CliqtelProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = CliqtelProvider(
        ProviderConfig(
            type="cliqtel",
            base_url=f"{stub.url}/api/v1/sms",
            api_key_env="CONTRACT_CLIQTEL_KEY",
            sender_number_id=42,
            sender="",
            use_portal_endpoint=True,
        )
    )
    try:
        stub.reply = (
            200,
            {
                "success": True,
                "message": {
                    "id": 156,
                    "direction": "outbound",
                    "from": "+31201234567",
                    "to": "+31612345678",
                    "body": "Your order #1234 has shipped!",
                    "status": "queued",
                    "segments": 1,
                    "carrier": "cliqtel",
                    "created_at": "2026-04-03T10:15:30.000000Z",
                },
            },
            {},
        )
        [result] = await portal.send([message()])
        assert (result.outcome, result.provider_id) == (Outcome.ACCEPTED, "156")
        request = stub.requests[-1]
        assert (request["method"], request["path"]) == ("POST", "/api/v1/portal/sms/send")
        assert request["json"] == {
            "from_number_id": 42,
            "to": "+31612345678",
            "body": "Your order #1234 has shipped!",
        }

        stub.reply = (200, {"success": False, "message": "Insufficient wallet balance"}, {})
        [funds] = await portal.send([message()])
        assert funds.outcome is Outcome.FUNDS
    finally:
        await portal.close()


async def test_lookup_lists_outbound_messages_with_the_documented_filters(
    stub: Stub, client: CliqtelProvider
) -> None:
    listed = {**SENT_42["data"], "status": "delivered"}
    stub.reply = (
        200,
        {"data": [listed], "meta": {"total": 1, "page": 1, "per_page": 100, "total_pages": 1}},
        {},
    )
    since = datetime(2026, 4, 3, 10, 15, tzinfo=UTC)
    found = await client.lookup(message(), since)
    assert (found.found, found.provider_id) == (True, "42")
    [request] = stub.requests
    assert (request["method"], request["path"]) == ("GET", "/api/v1/sms/messages")
    query = request["query"]
    assert query["direction"] == "outbound" and query["to"] == "+31612345678"
    assert query["from"] == SENDER  # not another number's identical text
    assert datetime.fromisoformat(query["since"]) == since
    assert int(query["per_page"]) <= 100  # the documented maximum


async def test_numbers_as_listed(stub: Stub, client: CliqtelProvider) -> None:
    stub.reply = (
        200,
        {
            "data": [
                {
                    "id": 11,
                    "number": "+16625163513",
                    "country_code": "US",
                    "number_type": "local",
                    "sms_enabled": True,
                },
                {
                    "id": 6,
                    "number": "+16315950406",
                    "country_code": "US",
                    "number_type": "local",
                    "sms_enabled": True,
                },
            ]
        },
        {},
    )
    numbers = await client.numbers()
    assert [(n.id, n.number, n.sms_enabled, n.country) for n in numbers] == [
        ("11", "+16625163513", True, "US"),
        ("6", "+16315950406", True, "US"),
    ]
    assert stub.requests[0]["path"] == "/api/v1/sms/numbers"


@pytest.mark.parametrize("status", [403, 404])
async def test_a_balance_that_cannot_be_read_is_unknown_not_a_refusal(
    stub: Stub, client: CliqtelProvider, status: int
) -> None:
    code = "insufficient_scope" if status == 403 else "not_found"
    stub.reply = (status, {"error": {"code": code, "message": "no"}}, {})
    assert await client.balance() is None


def test_the_documented_status_webhook_is_read(client: CliqtelProvider) -> None:
    payload = {
        "event": "sms.status_updated",
        "data": {
            "id": 42,
            "from": "+16625163513",
            "to": "+31612345678",
            "direction": "outbound",
            "status": "delivered",
            "segments": 1,
            "cost": 0.008,
            "currency": "EUR",
            "created_at": "2026-04-03T10:15:30+00:00",
            "updated_at": "2026-04-03T10:15:33+00:00",
        },
        "timestamp": "2026-04-03T10:15:33+00:00",
    }
    # The reference's verifier: HMAC-SHA256 (hex) of JSON.stringify(payload).
    body = json.dumps(payload, separators=(",", ":")).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    [event] = client.parse_status_webhook(WebhookRequest(body, {"X-Cliqtel-Signature": signature}))
    assert (event.provider_id, event.status) == ("42", DeliveryStatus.DELIVERED)
    assert event.occurred_at == datetime(2026, 4, 3, 10, 15, 33, tzinfo=UTC)


async def test_receipt_reads_get_message(stub: Stub, client: CliqtelProvider) -> None:
    delivered = {**SENT_42["data"], "status": "delivered", "updated_at": "2026-04-03T10:15:33+00:00"}
    stub.reply = (200, {"data": delivered}, {})
    event = await client.receipt("42")
    assert event is not None and (event.provider_id, event.status) == ("42", DeliveryStatus.DELIVERED)
    assert (stub.requests[0]["method"], stub.requests[0]["path"]) == ("GET", "/api/v1/sms/messages/42")
    stub.reply = (200, {"data": {**SENT_42["data"], "status": "sending"}}, {})  # the guide's lifecycle
    sending = await client.receipt("42")
    assert sending is not None and sending.status is DeliveryStatus.QUEUED


async def test_inbound_replies_are_read_from_the_inbound_list(stub: Stub, client: CliqtelProvider) -> None:
    # The guide's sms.received data, as the list shows an inbound message.
    received = {
        "id": 157,
        "from": "+31612345678",
        "to": "+31201234567",
        "body": "Thanks, got the tracking!",
        "direction": "inbound",
        "segments": 1,
        "created_at": "2026-04-03T10:16:45+00:00",
    }
    stub.reply = (
        200,
        {"data": [received], "meta": {"total": 1, "page": 1, "per_page": 100, "total_pages": 1}},
        {},
    )
    since = datetime(2026, 4, 3, 10, 0, tzinfo=UTC)
    [event] = await client.inbound_since(since)
    assert (event.provider_id, event.from_number, event.body) == (
        "157",
        "+31612345678",
        "Thanks, got the tracking!",
    )
    query = stub.requests[0]["query"]
    assert stub.requests[0]["path"] == "/api/v1/sms/messages"
    assert query["direction"] == "inbound" and datetime.fromisoformat(query["since"]) == since


@pytest.mark.parametrize("signing_key", ["webhook_secret", "api_key"])
def test_webhooks_signed_with_the_configured_key(
    stub: Stub, monkeypatch: pytest.MonkeyPatch, signing_key: str
) -> None:
    # "signed with your application key": a signing secret of its own, or the API key.
    monkeypatch.setenv("CONTRACT_CLIQTEL_KEY", KEY)
    monkeypatch.setenv("CONTRACT_CLIQTEL_SECRET", SECRET)
    client = CliqtelProvider(
        ProviderConfig(
            type="cliqtel",
            base_url=f"{stub.url}/api/v1/sms",
            api_key_env="CONTRACT_CLIQTEL_KEY",
            webhook_secret_env="CONTRACT_CLIQTEL_SECRET",
            webhook_signing_key=signing_key,  # type: ignore[arg-type]
            sender=SENDER,
        )
    )
    body = json.dumps({"event": "sms.status_updated", "data": {"id": 42, "status": "delivered"}}).encode()
    right, wrong = (SECRET, KEY) if signing_key == "webhook_secret" else (KEY, SECRET)
    signed = hmac.new(right.encode(), body, hashlib.sha256).hexdigest()
    [event] = client.parse_status_webhook(WebhookRequest(body, {"X-Cliqtel-Signature": signed}))
    assert event.provider_id == "42"  # type: ignore[union-attr]
    forged = hmac.new(wrong.encode(), body, hashlib.sha256).hexdigest()
    with pytest.raises(WebhookRejected):
        client.parse_status_webhook(WebhookRequest(body, {"X-Cliqtel-Signature": forged}))


async def test_a_key_that_may_not_list_numbers_is_told_which_scope_is_missing_for_what(
    stub: Stub, client: CliqtelProvider
) -> None:
    from campaigner.app.preflight import check_sender
    from campaigner.errors import ProviderError

    stub.reply = (403, {"error": "insufficient_scope", "message": "This key may not call this endpoint"}, {})
    config = ProviderConfig(type="cliqtel", sender=SENDER)
    with pytest.raises(ProviderError, match=r"insufficient_scope.*sender is checked.*read scope"):
        await check_sender(client, config)
