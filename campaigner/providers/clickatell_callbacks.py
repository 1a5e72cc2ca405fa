"""Clickatell's callbacks as Clickatell sends them: message status and two-way (MO) replies.

The REST v2.0 document says a callback "will contain information about the message status and
charge" but fixes neither its format, its method nor its authentication. So every shape Clickatell
is known to send is read, on the same two routes (`/webhooks/clickatell/status` and `/inbound`):

* a JSON POST, REST v2 names: `apiMessageId`, `clientMessageId`, `messageStatus`,
  `statusDescription`, `timestamp`, `to`, `from`, `charge`; MO: `moMessageId`, `from`, `to`,
  `text`, `timestamp`, `charset` (an object, a list of them, or either under `data`);
* a form-encoded POST or a GET query, legacy names: `apiMsgId`, `cliMsgId`, `status`, `timestamp`,
  `to`, `from`, `charge`; MO: `moMsgId`, `from`, `to`, `text`, `timestamp`, `charset`, `udh`.

Authentication is what Clickatell can be given in its portal: a secret token in the callback URL's
query (`?token=…`, from `provider.callback_token_env`) or HTTP Basic auth with credentials of its
own (`provider.callback_username`, `provider.callback_password_env`), both compared in constant
time before anything is parsed. Clickatell signs nothing, so no signature is accepted.

Our clientMessageId comes back in a status callback (`echo_of`): a job id for a one-number request,
`r<first job id>` for a batch, where the callback's `to` picks the job. That is how a job whose send
reply was lost is settled (`inbound/receipts.py`): Clickatell offers no lookup by our id.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from campaigner.config import Secret
from campaigner.model.provider import (
    DeliveryStatus,
    IgnoredEvent,
    InboundEvent,
    StatusEvent,
    WebhookRejected,
    WebhookRequest,
)
from campaigner.providers.webhooks import (
    MAX_INBOUND_CHARS,
    MAX_NUMBER_CHARS,
    Unusable,
    basic_auth_valid,
    clean_text,
    decode_json,
    event_time,
    header,
    ident,
    job_ref,
    stored_text,
)

# The query parameter of the callback URL that carries the token (never a field of the event).
TOKEN_PARAM = "token"
# A form or query callback has a dozen fields; more is not a callback of Clickatell's.
MAX_FIELDS = 64
# Batch requests carry this prefix before their first job's id (see `request_key`).
BATCH_PREFIX = "r"

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
# Character sets whose MO text arrives as hex digits of UTF-16 code units.
_HEX_CHARSETS = {"utf-16be", "utf-16", "ucs-2", "ucs2"}


def status_of(value: Any) -> DeliveryStatus | None:
    """A Clickatell status ("004", 4, or a word) as a neutral DeliveryStatus, or None."""
    text = str(value).strip().lower() if value is not None else ""
    if text.isdigit():
        return STATUSES.get(text.zfill(3))
    return _WORDS.get(text)


def request_key(refs: list[int]) -> str:
    """The clientMessageId of one request: the job id alone, or `r` + the first job's id for a
    batch (Clickatell allows one per request; the callback's `to` then names the job)."""
    return str(refs[0]) if len(refs) == 1 else f"{BATCH_PREFIX}{refs[0]}"


def echo_of(client_message_id: Any, to: Any) -> tuple[int, str | None] | None:
    """The job a callback's clientMessageId names: (job id, None), or (first job of the batch, the
    recipient in E.164); None when it is not one of ours. Unusable("bad_ref") for a broken one."""
    if isinstance(client_message_id, str) and client_message_id.startswith(BATCH_PREFIX):
        ref = job_ref(client_message_id[len(BATCH_PREFIX) :])
        digits = str(to or "").strip().lstrip("+")
        if ref is None or not digits.isascii() or not digits.isdigit() or len(digits) > 15:
            raise Unusable("bad_ref", "a batch clientMessageId needs its recipient in `to`")
        return ref, "+" + digits
    ref = job_ref(client_message_id)
    return None if ref is None else (ref, None)


def authenticate(
    request: WebhookRequest, *, token: Secret | None, username: str, password: Secret | None
) -> None:
    """Accept the request when its URL carries the token or it has the Basic-auth credentials;
    WebhookRejected(401) otherwise, before anything else is read."""
    if token is None and password is None:
        raise WebhookRejected(
            "no callback authentication is configured: set provider.callback_token_env (the "
            "?token= of the callback URL) or provider.callback_username and callback_password_env",
            status=401,
        )
    given = request.query.get(TOKEN_PARAM)
    if token is not None and given is not None and len(given) <= 1024:
        if hmac.compare_digest(given.encode("utf-8"), token.reveal().encode("utf-8")):
            return
    if basic_auth_valid(request.headers, username, password):
        return
    raise WebhookRejected("callback without a valid token or credentials", status=401)


def records(request: WebhookRequest) -> list[dict[str, Any]]:
    """The callback's records, whatever its shape: a JSON body, a form body or the query."""
    content_type = (header(request.headers, "Content-Type") or "").split(";")[0].strip().lower()
    body = request.body.strip()
    if content_type == "application/x-www-form-urlencoded" or (
        body and not content_type.endswith("json") and body[:1] not in (b"{", b"[")
    ):
        return [_form(request.body)]
    if body:
        payload = decode_json(request.body)
        data = payload.get("data", payload) if isinstance(payload, dict) else payload
        found = data if isinstance(data, list) else [data]
        if not all(isinstance(record, dict) for record in found):
            raise WebhookRejected("callback data is not an object", status=400)
        return found
    fields = {k: v for k, v in request.query.items() if k != TOKEN_PARAM}
    if not fields:
        raise WebhookRejected("callback without fields (no body and no query)", status=400)
    return [fields]


def _form(body: bytes) -> dict[str, Any]:
    """A form body as one record: the first value of each field; text as its `charset` says."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise WebhookRejected("form body is not URL-encoded", status=400) from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS, encoding="latin-1")
    except ValueError:
        raise WebhookRejected(f"form body with more than {MAX_FIELDS} fields", status=400) from None
    latin: dict[str, str] = {}
    for key, value in pairs:
        latin.setdefault(key, value)
    charset = latin.get("charset", "").strip().lower()
    if charset in ("iso-8859-1", "latin-1", "latin1"):
        return latin
    # Percent-escapes are UTF-8 unless the charset says otherwise (ISO-8859-1 MO texts).
    record: dict[str, Any] = {}
    for key, value in latin.items():
        raw = value.encode("latin-1")
        try:
            record[key] = raw.decode("utf-8")
        except UnicodeDecodeError:
            record[key] = value
    return record


def _first(record: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = record.get(name)
        if value is not None and value != "":
            return value
    return None


def status_events(found: list[dict[str, Any]]) -> list[StatusEvent | IgnoredEvent]:
    """Status callbacks as receipts; a record with a field we cannot use is an IgnoredEvent."""
    events: list[StatusEvent | IgnoredEvent] = []
    for record in found:
        api_id = _first(record, "apiMessageId", "apiMsgId", "messageId")
        if api_id is None:
            raise WebhookRejected("status callback without apiMessageId (or apiMsgId)", status=400)
        try:
            provider_id = ident(api_id, "apiMessageId")
            raw_status = _first(record, "messageStatus", "status")
            status = status_of(raw_status) if isinstance(raw_status, str | int) else None
            if status is None:  # a status this client does not know: answered 200 and counted
                raise Unusable("unknown_status", "messageStatus is not one this client knows")
            echo = echo_of(_first(record, "clientMessageId", "cliMsgId"), record.get("to"))
            occurred = event_time(record.get("timestamp"), "timestamp")
        except Unusable as exc:
            events.append(IgnoredEvent(exc.reason, exc.detail))
            continue
        undelivered = status is DeliveryStatus.UNDELIVERED
        description = _first(record, "statusDescription", "description")
        events.append(
            StatusEvent(
                provider_id=provider_id,
                status=status,
                occurred_at=occurred,
                error=clean_text(description or raw_status) if undelivered else None,
                ref=echo[0] if echo else None,
                ref_e164=echo[1] if echo else None,
            )
        )
    return events


def inbound_events(found: list[dict[str, Any]]) -> list[InboundEvent | IgnoredEvent]:
    """Two-way (MO) callbacks as replies; a record with a field we cannot use is an IgnoredEvent."""
    events: list[InboundEvent | IgnoredEvent] = []
    for record in found:
        mo_id = _first(record, "moMessageId", "moMsgId", "messageId")
        sender_value = _first(record, "from")
        if mo_id is None or sender_value is None:
            missing = " and ".join(
                name for name, value in (("moMessageId", mo_id), ("from", sender_value)) if value is None
            )
            raise WebhookRejected(f"inbound callback without {missing}", status=400)
        try:
            provider_id = ident(mo_id, "moMessageId")
            sender = stored_text(sender_value, "from", MAX_NUMBER_CHARS).strip()
            to = stored_text(record.get("to"), "to", MAX_NUMBER_CHARS).strip()
            text = _text(record)
            received = event_time(record.get("timestamp"), "timestamp")
        except Unusable as exc:
            events.append(IgnoredEvent(exc.reason, exc.detail))
            continue
        events.append(
            InboundEvent(
                provider_id=provider_id,
                from_number=sender if sender.startswith("+") else "+" + sender,
                to_number=to if to.startswith("+") or not to.isdigit() else "+" + to,
                body=text,
                received_at=received,
            )
        )
    return events


def _text(record: Mapping[str, Any]) -> str:
    """The reply's text; UTF-16 texts of legacy callbacks arrive as hex digits."""
    text = stored_text(_first(record, "text", "body", "content"), "text", MAX_INBOUND_CHARS)
    charset = str(record.get("charset") or "").strip().lower()
    if charset in _HEX_CHARSETS and text and len(text) % 4 == 0:
        try:
            return stored_text(bytes.fromhex(text).decode("utf-16-be"), "text", MAX_INBOUND_CHARS)
        except (ValueError, UnicodeDecodeError):
            return text  # not hex after all: the text as it came
    return text
