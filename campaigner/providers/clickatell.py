"""Clickatell SMS REST API v2.0 client (Clickatell's "SMS REST API V2.0"): `X-Version: 1`, JSON, Bearer token.

One request carries one text to up to `max_recipients_per_request` numbers (the document says 500,
200 and 600 in different places: 200 unless recipients_per_request says otherwise, never more than
600). Messages of a batch with different bodies go in separate requests.

Every request carries a clientMessageId of its own (`clickatell_callbacks.request_key`): the job id
for one number, `r` + the first job's id for a batch. Clickatell cannot look a message up by it,
so this client declares `looks_up_messages = False`: a job whose reply was lost waits for its
status callback, which echoes the key (and the number), and nothing is ever sent twice on a guess.

Per-message results (`data.message[]`) are read whatever the HTTP status; a top-level error applies
only to the messages without a result of their own.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from campaigner.config import ProviderConfig, Secret
from campaigner.errors import ConfigError, ProviderError
from campaigner.model.provider import (
    Balance,
    Coverage,
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
    WebhookRequest,
)
from campaigner.providers.base import Capabilities
from campaigner.providers.clickatell_callbacks import (
    authenticate,
    inbound_events,
    records,
    request_key,
    status_events,
    status_of,
)
from campaigner.providers.errors import ProviderUnavailable, clickatell_verdict
from campaigner.providers.http import HttpReply, HttpSession, NetworkFailure, parse_retry_after
from campaigner.providers.webhooks import decimal_amount
from campaigner.text.segments import is_gsm7

# The API root; every path below starts with /rest (POST /rest/message, ...).
log = logging.getLogger(__name__)

# The most numbers one request carries, and how many by default (the strictest figure given).
MAX_BATCH = 600
DEFAULT_BATCH = 200

DEFAULT_BASE_URL = "https://api.clickatell.com"
# Error 130's description ends with the UNIX time until which the account may not send.
_UNTIL = re.compile(r"until\s*<?\s*(\d{9,11})")
# Longest wait taken from a 130 (a month): a later time is a mistake, not a limit to sleep through.
MAX_LIMIT_WAIT = 31 * 86_400.0


def msisdn(e164: str) -> str:
    """E.164 as Clickatell writes it: international digits, no '+'."""
    return e164.lstrip("+").replace(" ", "")


def error_of(payload: Any) -> tuple[str | None, str | None]:
    """(code, description) of a Clickatell error object, wherever it sits; numeric codes as the
    document writes them, three digits ("001", 105 -> "105")."""
    if not isinstance(payload, dict):
        return None, None
    error = payload.get("error")
    if isinstance(error, dict):
        code, text = error.get("code"), error.get("description") or error.get("message")
    elif isinstance(error, str):
        code, text = payload.get("errorCode", payload.get("code")), error
    else:
        code = payload.get("errorCode")
        text = payload.get("errorDescription") or payload.get("description")
    if code is None or isinstance(code, bool):
        return None, (str(text) if text else None)
    key = str(code).strip()[:16]
    return (key.zfill(3) if key.isdigit() else key), (str(text) if text else None)


def _optional(secret: Callable[[], Secret | None]) -> Secret | None:
    """A callback secret, or None when its variable is not set (that way is then not accepted,
    and the 401 says what to set): a callback is refused, never answered 500."""
    try:
        return secret()
    except ConfigError:
        return None


def _message_items(payload: Any) -> list[Any] | None:
    """The per-message results of a send reply (`data.message`), or None when it has none."""
    data = payload.get("data") if isinstance(payload, dict) else None
    items = data.get("message") if isinstance(data, dict) else None
    if isinstance(items, dict):
        return [items]
    return items if isinstance(items, list) and items else None


def _limit_wait(code: str | None, text: str | None) -> float | None:
    """Seconds until error 130's "maximum MT limit exceeded until <UNIX TIMESTAMP>" ends."""
    if (code or "").strip().lstrip("0") != "130" or not text:
        return None
    found = _UNTIL.search(text)
    if found is None:
        return None
    return min(MAX_LIMIT_WAIT, max(1.0, int(found.group(1)) - time.time()))


class ClickatellProvider:
    """A Clickatell account over REST v2.0. Implements `campaigner.providers.base.Provider`."""

    name = "clickatell"
    # REST v2.0 has no endpoint listing an account's numbers, so the sender is not checked, and no
    # lookup by our id. The callback URLs are set in Clickatell's portal; callbacks may be a GET.
    # Receipts missed are asked for with GET /rest/message/{apiMessageId}: the document names a
    # "Query Message" command without its route; the route is DELETE's (check on a real account).
    capabilities = Capabilities(
        max_batch=MAX_BATCH,
        default_batch=DEFAULT_BATCH,
        lists_numbers=False,
        looks_up_messages=False,
        webhooks=("status", "inbound"),
        webhook_methods=("POST", "GET"),
        fetches_receipts=True,
        limits_parts=True,
        prices_in_credits=True,
        stops_messages=True,
        signed_webhooks=False,
    )
    looks_up_messages = False

    def __init__(
        self,
        config: ProviderConfig,
        *,
        status_callback_url: str | None = None,
        max_recipients: int | None = None,
    ) -> None:
        self._config = config
        self._key: Secret = config.api_key()
        base = config.base_url.rstrip("/")
        self._base = DEFAULT_BASE_URL if base == ProviderConfig().base_url else base
        wanted = config.recipients_per_request if max_recipients is None else max_recipients
        self.max_recipients_per_request = max(1, min(wanted, MAX_BATCH))
        # status_callback_url is not sent: Clickatell's callback URLs are set in its portal.
        self._http = HttpSession(
            name=self.name,
            account=config.account,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            total_timeout=config.request_bound(),
            headers={"X-Version": "1", "Accept": "application/json"},
            secrets=(self._key,),
        )
        self._callback_auth: tuple[Secret | None, Secret | None] | None = None

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
            "clientMessageId": request_key([message.ref for message in chunk]),
            # The parts we counted and priced: never more at the provider (the connection's
            # default may be 1, 2 or 3).
            "maxMessageParts": max(1, max(message.segments for message in chunk)),
        }
        if self._config.sender:
            sender = self._config.sender
            payload["from"] = msisdn(sender) if sender.startswith("+") else sender
        if not is_gsm7(body):
            # Clickatell sends GSM text unless told otherwise. Only a text outside the GSM alphabet
            # needs UCS-2: é, £, € and Greek capitals are GSM, and asking for UCS-2 for them would
            # cost up to twice the segments the preview counted.
            payload["unicode"] = 1
        if self._config.callback:
            payload["callback"] = self._config.callback
        if self._config.two_way:
            payload["mo"] = 1  # replies (STOP) come back to a two-way number only when asked
        valid = [message.valid_for for message in chunk if message.valid_for is not None]
        if valid:
            # Minutes; a message still queued after this is not delivered (not at night, say).
            payload["validityPeriod"] = max(1, int(min(valid) // 60))
        return payload

    async def _send_chunk(self, chunk: Sequence[OutboundMessage]) -> list[SendResult]:
        try:
            reply = await self._http.request(
                "POST", f"{self._base}/rest/message", json_body=self._payload(chunk), headers=self._auth()
            )
        except NetworkFailure as failure:
            return [SendResult(m.ref, failure.outcome, code="network", message=failure.detail) for m in chunk]
        payload = reply.json()
        items = _message_items(payload)
        if items is None:
            if 200 <= reply.status < 300:
                text = f"HTTP {reply.status} without per-message results"
                return [
                    SendResult(m.ref, Outcome.AMBIGUOUS, code=str(reply.status), message=text) for m in chunk
                ]
            return [self._failed(m.ref, reply, payload) for m in chunk]
        return self._per_message(chunk, reply, payload, items)

    def _failed(self, ref: int, reply: HttpReply, payload: Any, status: int | None = None) -> SendResult:
        code, text = error_of(payload)
        verdict = clickatell_verdict(status or reply.status, code)
        retry_after = None
        if verdict.outcome is Outcome.THROTTLED:
            retry_after = _limit_wait(code, text) or parse_retry_after(reply.headers.get("Retry-After"))
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
        self, chunk: Sequence[OutboundMessage], reply: HttpReply, payload: Any, items: list[Any]
    ) -> list[SendResult]:
        by_to: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            if isinstance(item, dict):
                by_to.setdefault(msisdn(str(item.get("to", ""))), []).append(item)
        top_code, _ = error_of(payload)
        results: list[SendResult] = []
        for message in chunk:
            matches = by_to.get(msisdn(message.to))
            if not matches:
                if top_code is not None:  # the request's own error, for those without their own
                    results.append(self._failed(message.ref, reply, payload))
                    continue
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
                # A refused message: judged by its own code, under the reply's status when that is an
                # error status (a 410 for a blocked number), else as a 400.
                status = reply.status if reply.status >= 400 else 400
                results.append(self._failed(message.ref, reply, item, status=status))
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
        """Never called (`looks_up_messages` is false): the document has no lookup by our id."""
        raise ProviderError("clickatell: REST v2.0 cannot look a message up by its clientMessageId")

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
            minimum_charge=None if charge is None else decimal_amount(charge, "clickatell: minimumCharge"),
        )

    async def numbers(self) -> list[SenderNumber]:
        """Clickatell's REST v2.0 cannot list numbers: always empty (see `lists_numbers`)."""
        return []

    # --- callbacks ---------------------------------------------------------------------------------------

    def _check(self, request: WebhookRequest) -> None:
        if self._callback_auth is None:
            self._callback_auth = (
                _optional(self._config.callback_token),
                _optional(self._config.callback_password),
            )
        token, password = self._callback_auth
        authenticate(request, token=token, username=self._config.callback_username, password=password)

    def parse_status_webhook(self, request: WebhookRequest) -> list[StatusEvent | IgnoredEvent]:
        """A message status callback in any of Clickatell's shapes (`clickatell_callbacks`)."""
        self._check(request)
        return status_events(records(request))

    def parse_inbound_webhook(self, request: WebhookRequest) -> list[InboundEvent | IgnoredEvent]:
        """A two-way (MO) callback in any of Clickatell's shapes (`clickatell_callbacks`)."""
        self._check(request)
        return inbound_events(records(request))

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._http.close()
