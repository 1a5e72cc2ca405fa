"""Cliqtel SMS API v1 client, after Cliqtel's "API Reference", "SMS API Reference" and the guide
"How to Send & Receive SMS with Cliqtel".

One recipient per request (`POST {base}/messages`, or the portal's `POST /api/v1/portal/sms/send`).
Both response shapes (`{"data": …}` and the portal's `{"success": true, "message": …}`), both error
envelopes (`{"error": {"code", "message"}}` and `{"error": "…", "message": "…"}`) and both
paginations (`meta` and Laravel's `current_page/last_page/total`) are accepted.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from campaigner.config import ProviderConfig, Secret
from campaigner.errors import ProviderError
from campaigner.model.provider import (
    Balance,
    DeliveryStatus,
    IgnoredEvent,
    InboundEvent,
    LookupResult,
    OutboundMessage,
    Outcome,
    RateLimitInfo,
    SenderNumber,
    SendResult,
    StatusEvent,
    WebhookRejected,
    WebhookRequest,
)
from campaigner.providers import pages
from campaigner.providers.base import Capabilities
from campaigner.providers.errors import ProviderUnavailable, cliqtel_verdict
from campaigner.providers.http import HttpReply, HttpSession, NetworkFailure, parse_retry_after
from campaigner.providers.webhooks import (
    MAX_INBOUND_CHARS,
    MAX_NUMBER_CHARS,
    Unusable,
    clean_text,
    decimal_amount,
    event_time,
    ident,
    parse_time,
    stored_text,
    verify_signed,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://cliqtel.com/api/v1/sms"
PER_PAGE = 100

STATUSES: dict[str, DeliveryStatus] = {
    "queued": DeliveryStatus.QUEUED,
    "accepted": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.QUEUED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "failed": DeliveryStatus.UNDELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "rejected": DeliveryStatus.UNDELIVERED,
    "expired": DeliveryStatus.UNDELIVERED,
}

_FIELD_WORDS = re.compile(r"\b(from_number_id|from|to|body)\b")


def error_of(payload: Any) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(code, message, fields named by a validation error) from either Cliqtel error envelope."""
    if not isinstance(payload, dict):
        return None, None, ()
    error = payload.get("error")
    fields: list[str] = []
    if isinstance(payload.get("errors"), dict):
        fields.extend(str(key) for key in payload["errors"])
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message") or error.get("description")
        if isinstance(error.get("errors"), dict):
            fields.extend(str(key) for key in error["errors"])
        if error.get("field"):
            fields.append(str(error["field"]))
    elif isinstance(error, str):
        code, message = error, payload.get("message")
    else:
        code, message = payload.get("code"), payload.get("message")
    text = str(message) if message is not None else None
    if not fields and text and (str(code).lower() == "validation_error"):
        fields.extend(_FIELD_WORDS.findall(text))
    return (str(code) if code is not None else None), text, tuple(fields)


def message_record(payload: Any) -> dict[str, Any] | None:
    """The message object of a send reply in either shape (`data` or the portal's `message`)."""
    if not isinstance(payload, dict) or payload.get("success") is False:
        return None
    for key in ("data", "message"):
        record = payload.get(key)
        if isinstance(record, dict) and record.get("id") is not None:
            return record
    return None


def _reported(record: dict[str, Any]) -> tuple[int | None, Decimal | None]:
    """The segments and cost a 201 reply reports (the reference shows both); None where absent or
    unreadable: what the provider tells us is kept, never made up."""
    segments = record.get("segments")
    cost = record.get("cost")
    counted = None
    if isinstance(segments, int) and not isinstance(segments, bool) and 0 < segments < 1000:
        counted = segments
    amount = None
    if isinstance(cost, int | float | str) and not isinstance(cost, bool):
        try:
            amount = Decimal(str(cost))
        except ArithmeticError:
            amount = None
    if amount is not None and (not amount.is_finite() or not 0 <= amount < 1_000_000):
        amount = None
    return counted, amount.quantize(Decimal("0.000001")) if amount is not None else None


def _inbound_order(event: InboundEvent) -> tuple[int, str]:
    # Cliqtel's ids are integers that grow with time; anything else sorts after, as text.
    return (int(event.provider_id), "") if event.provider_id.isdigit() else (1 << 62, event.provider_id)


class CliqtelProvider:
    """A Cliqtel account. Implements `campaigner.providers.base.Provider`."""

    name = "cliqtel"
    # One number a request; each message names its status callback URL; numbers are listed.
    # Replies are polled: the guide says inbound webhooks are "coming soon" (the inbound route
    # stays, for when they ship).
    capabilities = Capabilities(
        webhooks=("status", "inbound"),
        callback_per_message=True,
        fetches_receipts=True,
        polls_inbound=True,
    )
    max_recipients_per_request = 1
    looks_up_messages = True

    def __init__(self, config: ProviderConfig, *, status_callback_url: str | None = None) -> None:
        self._config = config
        self._key: Secret = config.api_key()
        self._base = config.base_url.rstrip("/")
        self._callback = status_callback_url or None
        self._http = HttpSession(
            name=self.name,
            account=config.account,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            total_timeout=config.request_bound(),
            headers={"Accept": "application/json"},
            secrets=(self._key,),
        )
        self._sender_id: int | None = config.sender_number_id
        self._webhook_secret: Secret | None = None

    def __repr__(self) -> str:
        return f"CliqtelProvider(base_url={self._base!r}, sender={self._config.sender!r})"

    @property
    def portal_url(self) -> str:
        """The portal send endpoint next to the SMS API (`…/api/v1/sms` → `…/api/v1/portal/sms/send`)."""
        root = self._base[: -len("/sms")] if self._base.endswith("/sms") else self._base
        return f"{root}/portal/sms/send"

    @property
    def rate_limit(self) -> RateLimitInfo:
        """X-RateLimit-Limit / -Remaining / Retry-After of the last response."""
        return self._http.last_rate_limit

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key.reveal()}"}

    # --- sending -----------------------------------------------------------------------------------------

    async def send(self, batch: Sequence[OutboundMessage]) -> list[SendResult]:
        """Send each message in its own request (Cliqtel takes one recipient per request)."""
        if len(batch) == 1:
            return [await self._send_one(batch[0])]
        return list(await asyncio.gather(*(self._send_one(message) for message in batch)))

    async def _payload(self, message: OutboundMessage) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {"to": message.to, "body": message.body}
        if self._config.use_portal_endpoint:
            payload["from_number_id"] = await self._sender_number_id()
            return self.portal_url, payload
        if self._config.sender:
            payload["from"] = self._config.sender
        elif self._sender_id is not None:
            payload["from_number_id"] = self._sender_id
        else:
            raise ProviderError("no sender configured (set provider.sender or provider.sender_number_id)")
        if self._callback:
            payload["status_callback_url"] = self._callback
        return f"{self._base}/messages", payload

    async def _sender_number_id(self) -> int:
        # The portal endpoint only takes from_number_id: resolve `sender` to its id once.
        if self._sender_id is None:
            if not self._config.sender:
                raise ProviderError("no sender configured (set provider.sender or provider.sender_number_id)")
            for number in await self.numbers():
                if number.number == self._config.sender:
                    self._sender_id = int(number.id)
                    break
            else:
                raise ProviderError(f"sender {self._config.sender} is not a number of this account")
        return self._sender_id

    async def _send_one(self, message: OutboundMessage) -> SendResult:
        limit = self._config.max_body_chars
        if len(message.body) > limit:
            text = f"body is {len(message.body)} characters, the limit is {limit}"
            return SendResult(message.ref, Outcome.RECIPIENT, code="validation_error", message=text)
        try:
            url, payload = await self._payload(message)
        except ProviderUnavailable as exc:
            return SendResult(message.ref, Outcome.TRANSIENT, code="lookup_sender", message=str(exc))
        except ProviderError as exc:
            return SendResult(message.ref, Outcome.ACCOUNT, code="sender", message=str(exc))
        try:
            reply = await self._http.request("POST", url, json_body=payload, headers=self._auth())
        except NetworkFailure as failure:
            return SendResult(message.ref, failure.outcome, code="network", message=failure.detail)
        return self._result(message.ref, reply)

    def _result(self, ref: int, reply: HttpReply) -> SendResult:
        payload = reply.json()
        if 200 <= reply.status < 300 and not (isinstance(payload, dict) and payload.get("success") is False):
            record = message_record(payload)
            if record is not None:
                segments, cost = _reported(record)
                return SendResult(
                    ref,
                    Outcome.ACCEPTED,
                    provider_id=str(record["id"]),
                    reported_segments=segments,
                    reported_cost=cost,
                )
            # The provider answered success but we cannot read which message it made.
            text = f"HTTP {reply.status} without a message id"
            return SendResult(ref, Outcome.AMBIGUOUS, code=str(reply.status), message=text)
        code, reason, fields = error_of(payload)
        # A 2xx with `success: false` (the portal) is an error without a status of its own.
        status = reply.status if reply.status >= 300 else 422
        verdict = cliqtel_verdict(status, code, fields, reason)
        retry_after = None
        if verdict.outcome is Outcome.THROTTLED:
            retry_after = parse_retry_after(reply.headers.get("Retry-After"))
            retry_after = 1.0 if retry_after is None else retry_after
        detail = self._http.redact(f"HTTP {reply.status}: {reason or code or 'no reason given'}")
        return SendResult(
            ref,
            verdict.outcome,
            code=code or str(reply.status),
            message=detail,
            retry_after=retry_after,
            opt_out=verdict.opt_out,
            if_absent=verdict.if_absent,
        )

    # --- reading -----------------------------------------------------------------------------------------

    async def _get(self, url: str, params: dict[str, str] | None = None) -> Any:
        """GET a JSON document; ProviderUnavailable when it cannot be had now, ProviderError when refused."""
        try:
            reply = await self._http.request("GET", url, params=params, headers=self._auth())
        except NetworkFailure as failure:
            raise ProviderUnavailable(failure.detail) from None
        payload = reply.json()
        if reply.status == 200 and payload is not None:
            return payload
        code, text, _ = error_of(payload)
        detail = self._http.redact(f"cliqtel: GET {url}: HTTP {reply.status}: {text or code or 'no reason'}")
        if reply.status == 429 or reply.status >= 500 or reply.status == 200:
            raise ProviderUnavailable(detail, parse_retry_after(reply.headers.get("Retry-After")))
        raise ProviderError(detail)

    async def lookup(self, message: OutboundMessage, since: datetime) -> LookupResult:
        """Find an outbound message to `message.to` with `message.body`, created at or after `since`.

        Follows every page of `GET /messages?direction=outbound&to=…&since=…`; raises ProviderError
        (ProviderUnavailable) when any page cannot be read, because "not found" must be certain.
        """
        # `since` is used as given: the caller allows for clock skew (the reconciler does).
        start = since if since.tzinfo else since.replace(tzinfo=UTC)
        params = {
            "direction": "outbound",
            "to": message.to,
            "since": start.astimezone(UTC).isoformat(),
            "per_page": str(PER_PAGE),
        }
        if self._config.sender:
            # Another campaign's identical text to the same number, from another of the account's
            # numbers, is not ours (the reference's `from` filter).
            params["from"] = self._config.sender
        async for item in pages.walk(self._get, f"{self._base}/messages", params):
            if self._matches(item, message, start):
                status = STATUSES.get(str(item.get("status", "")).lower())
                return LookupResult(True, str(item["id"]), status.value if status else item.get("status"))
        return LookupResult(False)

    @staticmethod
    def _matches(item: dict[str, Any], message: OutboundMessage, start: datetime) -> bool:
        if item.get("id") is None or item.get("to") != message.to:
            return False
        if item.get("direction", "outbound") != "outbound":
            return False
        if str(item.get("body", "")).replace("\r\n", "\n") != message.body.replace("\r\n", "\n"):
            return False
        created = parse_time(item.get("created_at"))
        # A server that ignores `since` must not make an older identical message count; created_at
        # may be shown in whole seconds, so compare at that precision.
        return created is None or created >= start.replace(microsecond=0)

    async def inbound_since(self, since: datetime) -> list[InboundEvent]:
        """Replies to our numbers at or after `since` (`GET /messages?direction=inbound&since=…`,
        every page), oldest first."""
        start = since if since.tzinfo else since.replace(tzinfo=UTC)
        since_text = start.astimezone(UTC).isoformat()
        params = {"direction": "inbound", "since": since_text, "per_page": str(PER_PAGE)}
        events = []
        async for item in pages.walk(self._get, f"{self._base}/messages", params):
            if item.get("id") is None or not item.get("from"):
                continue
            if item.get("direction", "inbound") != "inbound":
                continue  # a server that ignores the filter
            events.append(
                InboundEvent(
                    provider_id=str(item["id"]),
                    from_number=str(item["from"]),
                    to_number=str(item.get("to", "")),
                    body=str(item.get("body", "")),
                    received_at=parse_time(item.get("received_at") or item.get("created_at")),
                )
            )
        return sorted(events, key=_inbound_order)

    async def receipt(self, provider_id: str) -> StatusEvent | None:
        """Where one message is (`GET /messages/{id}`, the reference's "Get Message")."""
        payload = await self._get(f"{self._base}/messages/{provider_id}")
        record = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(record, dict):
            raise ProviderError(f"cliqtel: GET /messages/{provider_id}: no message in the reply")
        status = STATUSES.get(str(record.get("status", "")).lower())
        if status is None:
            return None
        segments, cost = _reported(record)
        return StatusEvent(
            provider_id=str(provider_id),
            status=status,
            occurred_at=parse_time(record.get("updated_at") or record.get("created_at")),
            reported_segments=segments,
            reported_cost=cost,
        )

    async def numbers(self) -> list[SenderNumber]:
        """The account's SMS-capable numbers (`GET /numbers`); ProviderError when refused."""
        result = []
        async for item in pages.walk(self._get, f"{self._base}/numbers", {}, keys=("data", "numbers")):
            number = item.get("number") or item.get("phone_number")
            if item.get("id") is None or not number:
                continue
            result.append(
                SenderNumber(
                    id=str(item["id"]),
                    number=str(number),
                    sms_enabled=bool(item.get("sms_enabled", True)),
                    country=item.get("country_code") or item.get("country"),
                )
            )
        return result

    async def balance(self) -> Balance | None:
        """The wallet balance (`GET …/api/v1` + `provider.balance_path`), or None when it cannot be
        known: no such route (404), or a least-privilege key without billing:read (403)."""
        root = self._base[: -len("/sms")] if self._base.endswith("/sms") else self._base
        path = "/" + self._config.balance_path.lstrip("/")
        try:
            payload = await self._get(f"{root}{path}")
        except ProviderUnavailable:
            raise
        except ProviderError as exc:
            if "HTTP 404" in str(exc) or "HTTP 403" in str(exc):
                log.warning("cliqtel: balance unknown (%s); it is not checked", exc)
                return None
            raise
        data = payload.get("data", payload) if isinstance(payload, dict) else None
        if not isinstance(data, dict) or data.get("balance") is None:
            raise ProviderError("cliqtel: balance reply without a balance")
        return Balance(decimal_amount(data["balance"], "cliqtel: balance"), str(data.get("currency", "EUR")))

    # --- webhooks ----------------------------------------------------------------------------------------

    def _secret(self) -> Secret:
        if self._webhook_secret is None:
            self._webhook_secret = self._config.webhook_secret()
        return self._webhook_secret

    def _events(self, request: WebhookRequest, event: str) -> list[dict[str, Any]]:
        payload = verify_signed(request.body, request.headers, self._secret())
        if not isinstance(payload, dict):
            raise WebhookRejected("webhook body is not a JSON object", status=400)
        if payload.get("event") not in (event, None):
            return []
        data = payload.get("data")
        records = data if isinstance(data, list) else [data]
        if not all(isinstance(record, dict) for record in records):
            raise WebhookRejected("webhook `data` is not an object", status=400)
        return [record for record in records if isinstance(record, dict)]

    def parse_status_webhook(self, request: WebhookRequest) -> list[StatusEvent | IgnoredEvent]:
        """A signed `sms.status_updated` callback as StatusEvents (other events: empty list); a
        record with a field we cannot use is an IgnoredEvent."""
        events: list[StatusEvent | IgnoredEvent] = []
        for record in self._events(request, "sms.status_updated"):
            if record.get("id") is None:
                raise WebhookRejected("status webhook without a message id", status=400)
            try:
                provider_id = ident(record["id"], "id")
                status = STATUSES.get(str(record.get("status", ""))[:40].lower())
                if status is None:
                    # A status this client does not know (a new one of the provider's): not worth a
                    # retry storm; answered 200 and counted.
                    raise Unusable("unknown_status", "status is not one this client knows")
                error = record.get("error") or record.get("error_message") or record.get("failure_reason")
                if isinstance(error, dict):
                    error = error.get("message") or error.get("code")
                occurred = event_time(record.get("updated_at") or record.get("created_at"), "updated_at")
            except Unusable as exc:
                events.append(IgnoredEvent(exc.reason, exc.detail))
                continue
            segments, cost = _reported(record)
            events.append(
                StatusEvent(
                    provider_id=provider_id,
                    status=status,
                    occurred_at=occurred,
                    error=clean_text(error),
                    reported_segments=segments,
                    reported_cost=cost,
                )
            )
        return events

    def parse_inbound_webhook(self, request: WebhookRequest) -> list[InboundEvent | IgnoredEvent]:
        """A signed `sms.received` callback as InboundEvents (other events: empty list); a record
        with a field we cannot use is an IgnoredEvent."""
        events: list[InboundEvent | IgnoredEvent] = []
        for record in self._events(request, "sms.received"):
            if record.get("id") is None or not record.get("from"):
                missing = " and ".join(k for k in ("id", "from") if record.get(k) in (None, ""))
                raise WebhookRejected(f"inbound webhook without {missing}", status=400)
            try:
                event = InboundEvent(
                    provider_id=ident(record["id"], "id"),
                    from_number=stored_text(record["from"], "from", MAX_NUMBER_CHARS),
                    to_number=stored_text(record.get("to"), "to", MAX_NUMBER_CHARS),
                    body=stored_text(record.get("body"), "body", MAX_INBOUND_CHARS),
                    received_at=event_time(
                        record.get("received_at") or record.get("created_at"), "received_at"
                    ),
                )
            except Unusable as exc:
                events.append(IgnoredEvent(exc.reason, exc.detail))
                continue
            events.append(event)
        return events

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._http.close()
