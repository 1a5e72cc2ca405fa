"""Clickatell SMS REST API v2.0 client (Clickatell's "SMS REST API V2.0"): `X-Version: 1`, JSON, Bearer token.

One request carries one text to up to `max_recipients_per_request` numbers (the document says 500
in one place and 600 in another: we never exceed 500). Messages of a batch with different bodies go
in separate requests, so the dispatcher should group by body (it does).

`clientMessageId` is our job id when a request carries one recipient. A request to several recipients
can carry only one clientMessageId, so it gets a key of the body instead (`b` + 20 hex digits of its
SHA-256); `lookup` asks for the job id first and then for the body key, matching the recipient and
the time, so it finds a message whichever way it was sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
from campaigner.providers.base import Capabilities
from campaigner.providers.errors import ProviderUnavailable, clickatell_verdict
from campaigner.providers.http import HttpReply, HttpSession, NetworkFailure, parse_retry_after
from campaigner.providers.webhooks import (
    MAX_INBOUND_CHARS,
    MAX_NUMBER_CHARS,
    Unusable,
    basic_auth_valid,
    clean_text,
    decimal_amount,
    decode_json,
    event_time,
    ident,
    job_ref,
    parse_time,
    signature_valid,
    stored_text,
)
from campaigner.text.segments import is_gsm7

# The API root; every path below starts with /rest (POST /rest/message, ...).
log = logging.getLogger(__name__)

# The most numbers one request carries.
MAX_BATCH = 500

DEFAULT_BASE_URL = "https://api.clickatell.com"

# Clickatell message status codes (callbacks, query, stop) onto neutral delivery states.
STATUSES: dict[str, DeliveryStatus] = {
    "001": DeliveryStatus.QUEUED,  # message unknown (yet)
    "002": DeliveryStatus.QUEUED,  # queued
    "003": DeliveryStatus.SENT,  # delivered to gateway
    "004": DeliveryStatus.DELIVERED,  # received by recipient
    "005": DeliveryStatus.UNDELIVERED,  # error with message
    "006": DeliveryStatus.UNDELIVERED,  # user cancelled message delivery
    "007": DeliveryStatus.UNDELIVERED,  # error delivering message
    "008": DeliveryStatus.SENT,  # OK
    "009": DeliveryStatus.UNDELIVERED,  # routing error
    "010": DeliveryStatus.UNDELIVERED,  # message expired
    "011": DeliveryStatus.QUEUED,  # scheduled for later delivery
    "012": DeliveryStatus.UNDELIVERED,  # out of credit
    "013": DeliveryStatus.UNDELIVERED,  # Clickatell cancelled message delivery
    "014": DeliveryStatus.UNDELIVERED,  # maximum MT limit exceeded
}
_WORDS = {
    "queued": DeliveryStatus.QUEUED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "failed": DeliveryStatus.UNDELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
}


def status_of(value: Any) -> DeliveryStatus | None:
    """A Clickatell status ("004", 4, or a word) as a neutral DeliveryStatus, or None."""
    text = str(value).strip().lower() if value is not None else ""
    if text.isdigit():
        return STATUSES.get(text.zfill(3))
    return _WORDS.get(text)


def msisdn(e164: str) -> str:
    """E.164 as Clickatell writes it: international digits, no '+'."""
    return e164.lstrip("+").replace(" ", "")


def body_key(body: str) -> str:
    """The clientMessageId of a multi-recipient request: a key of its text (no spaces, 21 chars)."""
    return "b" + hashlib.sha256(body.encode("utf-8")).hexdigest()[:20]


def error_of(payload: Any) -> tuple[str | None, str | None]:
    """(code, description) of a Clickatell error object, wherever it sits."""
    if not isinstance(payload, dict):
        return None, None
    error = payload.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        text = error.get("description") or error.get("message")
        return (str(code) if code is not None else None), (str(text) if text else None)
    if isinstance(error, str):
        code = payload.get("errorCode", payload.get("code"))
        return (str(code) if code is not None else None), error
    code = payload.get("errorCode")
    text = payload.get("errorDescription") or payload.get("description")
    return (str(code) if code is not None else None), (str(text) if text else None)


@dataclass(frozen=True, slots=True)
class Coverage:
    """Whether a number can be reached, and the lowest credit charge of one plain message to it."""

    routable: bool
    destination: str
    minimum_charge: float | None


class ClickatellProvider:
    """A Clickatell account over REST v2.0. Implements `campaigner.providers.base.Provider`."""

    name = "clickatell"
    # Batches of up to 500 numbers (the document says 500 in one place and 600 in another), 500 when
    # recipients_per_request is not set. REST v2.0 has no endpoint listing an account's numbers, so
    # the sender is not checked. The status callback URL is set in Clickatell's portal.
    capabilities = Capabilities(
        max_batch=MAX_BATCH,
        default_batch=MAX_BATCH,
        lists_numbers=False,
        looks_up_messages=True,
        webhooks=("status", "inbound"),
        fetches_receipts=True,
    )

    def __init__(
        self,
        config: ProviderConfig,
        *,
        status_callback_url: str | None = None,
        max_recipients: int = MAX_BATCH,
    ) -> None:
        self._config = config
        self._key: Secret = config.api_key()
        base = config.base_url.rstrip("/")
        self._base = DEFAULT_BASE_URL if base == ProviderConfig().base_url else base
        self.max_recipients_per_request = max(1, min(max_recipients, MAX_BATCH))
        self._callback = status_callback_url or None
        self._http = HttpSession(
            name=self.name,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            total_timeout=config.request_bound(),
            headers={"X-Version": "1", "Accept": "application/json"},
            secrets=(self._key,),
        )
        self._webhook_secret: Secret | None = None
        self._callback_secret: Secret | None = None

    def __repr__(self) -> str:
        return f"ClickatellProvider(base_url={self._base!r}, batch={self.max_recipients_per_request})"

    @property
    def rate_limit(self) -> RateLimitInfo:
        """X-RateLimit-Limit / -Remaining / Retry-After of the last response."""
        return self._http.last_rate_limit

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key.reveal()}"}

    # --- sending -----------------------------------------------------------------------------------------

    async def send(self, batch: Sequence[OutboundMessage]) -> list[SendResult]:
        """Send `batch`: one request per distinct body and per `max_recipients_per_request` numbers."""
        groups: dict[str, list[OutboundMessage]] = {}
        for message in batch:
            groups.setdefault(message.body, []).append(message)
        chunks: list[Sequence[OutboundMessage]] = []
        for messages in groups.values():
            size = self.max_recipients_per_request
            chunks.extend(messages[i : i + size] for i in range(0, len(messages), size))
        replies = await asyncio.gather(*(self._send_chunk(chunk) for chunk in chunks))
        by_ref = {result.ref: result for results in replies for result in results}
        return [by_ref[message.ref] for message in batch]

    def _payload(self, chunk: Sequence[OutboundMessage]) -> dict[str, Any]:
        body = chunk[0].body
        payload: dict[str, Any] = {
            "text": body,
            "to": [msisdn(message.to) for message in chunk],
            "clientMessageId": str(chunk[0].ref) if len(chunk) == 1 else body_key(body),
        }
        if self._config.sender:
            sender = self._config.sender
            payload["from"] = msisdn(sender) if sender.startswith("+") else sender
        if not is_gsm7(body):
            # Clickatell sends GSM text unless told otherwise. Only a text outside the GSM alphabet
            # needs UCS-2: é, £, € and Greek capitals are GSM, and asking for UCS-2 for them would
            # cost up to twice the segments the preview counted.
            payload["unicode"] = 1
        if self._callback:
            payload["callback"] = 3  # intermediate and final statuses
        return payload

    async def _send_chunk(self, chunk: Sequence[OutboundMessage]) -> list[SendResult]:
        try:
            reply = await self._http.request(
                "POST", f"{self._base}/rest/message", json_body=self._payload(chunk), headers=self._auth()
            )
        except NetworkFailure as failure:
            return [SendResult(m.ref, failure.outcome, code="network", message=failure.detail) for m in chunk]
        payload = reply.json()
        if reply.status in (200, 201, 202, 207):
            return self._per_message(chunk, reply, payload)
        return [self._failed(m.ref, reply, payload) for m in chunk]

    def _failed(self, ref: int, reply: HttpReply, payload: Any, status: int | None = None) -> SendResult:
        code, text = error_of(payload)
        verdict = clickatell_verdict(status or reply.status, code)
        retry_after = None
        if verdict.outcome is Outcome.THROTTLED:
            retry_after = parse_retry_after(reply.headers.get("Retry-After"))
            retry_after = 1.0 if retry_after is None else retry_after
        detail = self._http.redact(f"HTTP {reply.status}: {text or 'no reason given'}")
        return SendResult(
            ref,
            verdict.outcome,
            code=code or str(reply.status),
            message=detail,
            retry_after=retry_after,
            opt_out=verdict.opt_out,
        )

    def _per_message(
        self, chunk: Sequence[OutboundMessage], reply: HttpReply, payload: Any
    ) -> list[SendResult]:
        data = payload.get("data") if isinstance(payload, dict) else None
        items = data.get("message") if isinstance(data, dict) else None
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            text = f"HTTP {reply.status} without per-message results"
            return [SendResult(m.ref, Outcome.AMBIGUOUS, code=str(reply.status), message=text) for m in chunk]
        by_to: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            if isinstance(item, dict):
                by_to.setdefault(msisdn(str(item.get("to", ""))), []).append(item)
        results: list[SendResult] = []
        for message in chunk:
            matches = by_to.get(msisdn(message.to))
            if not matches:
                text = "the reply does not mention this recipient"
                results.append(
                    SendResult(message.ref, Outcome.AMBIGUOUS, code=str(reply.status), message=text)
                )
                continue
            item = matches.pop(0)
            accepted = item.get("accepted") in (True, 1, "1", "true")
            if accepted and item.get("apiMessageId"):
                results.append(
                    SendResult(message.ref, Outcome.ACCEPTED, provider_id=str(item["apiMessageId"]))
                )
            elif accepted:
                text = "accepted without an apiMessageId"
                results.append(
                    SendResult(message.ref, Outcome.AMBIGUOUS, code=str(reply.status), message=text)
                )
            else:
                # A refused message inside a 202/207: judge it by its own code, 400 if it has none.
                results.append(self._failed(message.ref, reply, item, status=400))
        return results

    # --- reading -----------------------------------------------------------------------------------------

    async def _call(self, method: str, url: str, params: dict[str, str] | None = None) -> Any:
        """A non-send request: the parsed reply; ProviderUnavailable (retry later) or ProviderError."""
        try:
            reply = await self._http.request(method, url, params=params, headers=self._auth())
        except NetworkFailure as failure:
            raise ProviderUnavailable(failure.detail) from None
        payload = reply.json()
        if reply.status in (200, 202) and isinstance(payload, dict):
            return payload
        code, text = error_of(payload)
        detail = self._http.redact(
            f"clickatell: {method} {url}: HTTP {reply.status}: {text or 'no reason'}"
            + (f" (error {code})" if code else "")
        )
        verdict = clickatell_verdict(reply.status, code)
        if verdict.outcome in (Outcome.THROTTLED, Outcome.TRANSIENT, Outcome.AMBIGUOUS) or reply.status < 300:
            raise ProviderUnavailable(detail, parse_retry_after(reply.headers.get("Retry-After")))
        raise ProviderError(detail)

    async def _get(self, url: str, params: dict[str, str] | None = None) -> Any:
        return await self._call("GET", url, params)

    async def lookup(self, message: OutboundMessage, since: datetime) -> LookupResult:
        """Find `message` by its clientMessageId (the job id, then the body key) and recipient.

        Uses `GET /rest/message?clientMessageId=…`, which Clickatell's "SMS REST API V2.0" does not
        describe (the sandbox offers it; a real account needs a reconciliation source that does).
        Raises ProviderError when the provider cannot answer.
        """
        start = since if since.tzinfo else since.replace(tzinfo=UTC)
        for client_id in (str(message.ref), body_key(message.body)):
            payload = await self._get(f"{self._base}/rest/message", {"clientMessageId": client_id})
            data = payload.get("data")
            items = data.get("message") if isinstance(data, dict) else data
            if isinstance(items, dict):
                items = [items]
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and self._matches(item, message, start):
                    status = status_of(item.get("messageStatus", item.get("status")))
                    return LookupResult(True, str(item["apiMessageId"]), status.value if status else None)
        return LookupResult(False)

    @staticmethod
    def _matches(item: dict[str, Any], message: OutboundMessage, start: datetime) -> bool:
        if not item.get("apiMessageId") or msisdn(str(item.get("to", ""))) != msisdn(message.to):
            return False
        created = parse_time(item.get("createdAt") or item.get("created_at") or item.get("timestamp"))
        return created is None or created >= start

    async def message_status(self, api_message_id: str) -> DeliveryStatus | None:
        """The delivery state of one message (`GET /message/{id}`)."""
        payload = await self._call("GET", f"{self._base}/rest/message/{api_message_id}")
        data = payload.get("data", {})
        return status_of(data.get("messageStatus") if isinstance(data, dict) else None)

    async def inbound_since(self, since: datetime) -> list[InboundEvent]:
        """Replies reach us by callback only (capabilities.polls_inbound is false)."""
        return []

    async def receipt(self, provider_id: str) -> StatusEvent | None:
        """Where one message is (`GET /message/{apiMessageId}`, "Message status")."""
        status = await self.message_status(provider_id)
        return None if status is None else StatusEvent(provider_id=provider_id, status=status)

    async def stop(self, api_message_id: str) -> DeliveryStatus | None:
        """Stop a scheduled or still queued message (`DELETE /message/{id}`); its status afterwards."""
        payload = await self._call("DELETE", f"{self._base}/rest/message/{api_message_id}")
        data = payload.get("data", {})
        return status_of(data.get("messageStatus") if isinstance(data, dict) else None)

    async def balance(self) -> Balance | None:
        """The account's credits (`GET /account/balance`)."""
        payload = await self._call("GET", f"{self._base}/rest/account/balance")
        data = payload.get("data")
        if not isinstance(data, dict) or data.get("balance") is None:
            raise ProviderError("clickatell: balance reply without a balance")
        return Balance(
            decimal_amount(data["balance"], "clickatell: balance"), str(data.get("currency", "credits"))
        )

    async def coverage(self, e164: str) -> Coverage:
        """Whether `e164` is routable and its minimum charge (`GET /coverage/{msisdn}`) for estimates."""
        payload = await self._call("GET", f"{self._base}/rest/coverage/{msisdn(e164)}")
        data = payload.get("data")
        if not isinstance(data, dict):
            raise ProviderError("clickatell: coverage reply without data")
        charge = data.get("minimumCharge")
        return Coverage(
            routable=data.get("routable") in (True, 1, "1", "true"),
            destination=str(data.get("destination", msisdn(e164))),
            minimum_charge=float(charge) if charge is not None else None,
        )

    async def numbers(self) -> list[SenderNumber]:
        """Clickatell's REST v2.0 cannot list numbers: always empty (see `lists_numbers`)."""
        return []

    # --- callbacks ---------------------------------------------------------------------------------------

    def _secret(self) -> Secret:
        if self._webhook_secret is None:
            self._webhook_secret = self._config.webhook_secret()
        return self._webhook_secret

    def _callback_password(self) -> Secret | None:
        if self._callback_secret is None and self._config.callback_password_env:
            self._callback_secret = self._config.callback_password()
        return self._callback_secret

    def _records(self, request: WebhookRequest) -> list[dict[str, Any]]:
        # The raw bytes are authenticated before anything is parsed.
        if not (
            basic_auth_valid(request.headers, self._config.callback_username, self._callback_password())
            or signature_valid(request.body, request.headers, self._secret())
        ):
            raise WebhookRejected("callback without a valid signature or credentials", status=401)
        payload = decode_json(request.body)
        data = payload.get("data", payload) if isinstance(payload, dict) else payload
        records = data if isinstance(data, list) else [data]
        if not all(isinstance(record, dict) for record in records):
            raise WebhookRejected("callback data is not an object", status=400)
        return records

    def parse_status_webhook(self, request: WebhookRequest) -> list[StatusEvent | IgnoredEvent]:
        """A message status callback (`apiMessageId`, `clientMessageId`, `messageStatus`, `timestamp`);
        a record with a field we cannot use is an IgnoredEvent."""
        events: list[StatusEvent | IgnoredEvent] = []
        for record in self._records(request):
            if not record.get("apiMessageId"):
                raise WebhookRejected("callback without apiMessageId", status=400)
            try:
                provider_id = ident(record["apiMessageId"], "apiMessageId")
                raw_status = record.get("messageStatus", record.get("status"))
                status = status_of(raw_status) if isinstance(raw_status, str | int) else None
                if status is None:  # a status this client does not know: answered 200 and counted
                    raise Unusable("unknown_status", "messageStatus is not one this client knows")
                ref = job_ref(record.get("clientMessageId"))
                occurred = event_time(record.get("timestamp"), "timestamp")
            except Unusable as exc:
                events.append(IgnoredEvent(exc.reason, exc.detail))
                continue
            error = (
                clean_text(record.get("statusDescription")) if status is DeliveryStatus.UNDELIVERED else None
            )
            events.append(
                StatusEvent(
                    provider_id=provider_id, status=status, occurred_at=occurred, error=error, ref=ref
                )
            )
        return events

    def parse_inbound_webhook(self, request: WebhookRequest) -> list[InboundEvent | IgnoredEvent]:
        """A two-way (MO) callback: `moMessageId`, `from`, `to`, `text`, `timestamp`; a record with a
        field we cannot use is an IgnoredEvent."""
        events: list[InboundEvent | IgnoredEvent] = []
        for record in self._records(request):
            ident_value = record.get("moMessageId") or record.get("messageId") or record.get("apiMessageId")
            if not ident_value or not record.get("from"):
                missing = " and ".join(
                    name for name, value in (("id", ident_value), ("from", record.get("from"))) if not value
                )
                raise WebhookRejected(f"inbound callback without {missing}", status=400)
            try:
                provider_id = ident(ident_value, "moMessageId")
                sender = stored_text(record["from"], "from", MAX_NUMBER_CHARS)
                to = stored_text(record.get("to"), "to", MAX_NUMBER_CHARS)
                body = stored_text(record.get("text", record.get("body")), "text", MAX_INBOUND_CHARS)
                received = event_time(record.get("timestamp"), "timestamp")
            except Unusable as exc:
                events.append(IgnoredEvent(exc.reason, exc.detail))
                continue
            events.append(
                InboundEvent(
                    provider_id=provider_id,
                    from_number=sender if sender.startswith("+") else "+" + sender,
                    to_number=to if to.startswith("+") or not to.isdigit() else "+" + to,
                    body=body,
                    received_at=received,
                )
            )
        return events

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._http.close()
