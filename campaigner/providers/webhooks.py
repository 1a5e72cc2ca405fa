"""Webhook authentication and decoding shared by the provider clients.

Cliqtel signs every callback: `X-Cliqtel-Signature` is the hex HMAC-SHA256 of the JSON payload with
the account's webhook secret. We verify it over the raw body (what was actually sent) before parsing
anything. Because the reference computes it as `JSON.stringify(payload)`, a body that is not in that
compact form is also tried re-serialised compactly, but only when that is cheap and safe: a body of
at most COMPACT_MAX_BYTES with at most COMPACT_MAX_BRACKETS brackets (a forged 64 KB body, or one
nested 1,000 deep, costs one HMAC and is refused). Both need the secret, so accepting either
weakens nothing. Comparison is constant-time.

Clickatell's REST v2.0 document describes callbacks but no signature. We accept a Clickatell callback
when it carries a valid `X-Cliqtel-Signature` made with the webhook secret (what the sandbox sends),
or HTTP Basic auth with the user and password configured for callbacks (`provider.callback_username`,
`provider.callback_password_env`): its own secret, never the HMAC key. Anything else is 401.

After authentication, the fields of a record are made typed values here (`ident`, `event_time`,
`job_ref`, `stored_text`): a value we cannot use raises `Unusable(reason)`, which the client turns
into an `IgnoredEvent` (answered 200, counted), never into a 500 or a 503 further down.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from campaigner.config import Secret
from campaigner.errors import ProviderError
from campaigner.model.provider import WebhookRejected

SIGNATURE_HEADER = "X-Cliqtel-Signature"
# The compact re-serialisation is tried only on bodies this small and this flat (real callbacks are
# a few hundred bytes with a handful of objects).
COMPACT_MAX_BYTES = 8192
COMPACT_MAX_BRACKETS = 64


def sign(body: bytes, secret: Secret) -> str:
    """The hex HMAC-SHA256 of `body` with `secret`: what a Cliqtel callback carries."""
    # hmac.digest: OpenSSL's one-shot HMAC, without the pure-Python HMAC object (two a callback).
    return hmac.digest(secret.reveal().encode("utf-8"), body, "sha256").hex()


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Header `name` from `headers`, whatever its case (a plain dict is not case-insensitive)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def _brackets(body: bytes) -> int:
    # An upper bound of the nesting depth (brackets inside strings count too), at C speed.
    return body.count(b"{") + body.count(b"[")


def decode_json(body: bytes) -> Any:
    """The parsed body; WebhookRejected(400) when it is not JSON (or nested too deep to parse:
    the C decoder stops with a RecursionError before the stack is at risk)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise WebhookRejected("body is not valid JSON (nested too deep)", status=400) from None
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected("body is not valid JSON", status=400) from None


def _given_signature(headers: Mapping[str, str]) -> bytes | None:
    given = header(headers, SIGNATURE_HEADER)
    if not given:
        return None
    given = given.strip().lower()
    if given.startswith("sha256="):
        given = given[len("sha256=") :]
    return given.encode("ascii", "replace")


def _signed_payload(body: bytes, headers: Mapping[str, str], secret: Secret) -> tuple[bool, Any]:
    """(valid, parsed payload or None): the raw body first; the compact form only when cheap."""
    given = _given_signature(headers)
    if given is None:
        return False, None
    if hmac.compare_digest(given, sign(body, secret).encode("ascii")):
        return True, None
    if len(body) > COMPACT_MAX_BYTES or _brackets(body) > COMPACT_MAX_BRACKETS:
        return False, None
    try:
        payload = json.loads(body)
        compact = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):
        return False, None
    if compact != body and hmac.compare_digest(given, sign(compact, secret).encode("ascii")):
        return True, payload
    return False, None


def signature_valid(body: bytes, headers: Mapping[str, str], secret: Secret) -> bool:
    """Whether `headers` carry a valid X-Cliqtel-Signature for `body` (constant-time comparison)."""
    return _signed_payload(body, headers, secret)[0]


def verify_signed(request_body: bytes, headers: Mapping[str, str], secret: Secret) -> Any:
    """Verify a Cliqtel signature and return the parsed JSON body.

    Raises WebhookRejected(401) when the signature is missing or wrong, (400) when the body is not JSON.
    The signature is checked first, so an unauthenticated caller learns nothing about parsing.
    """
    if header(headers, SIGNATURE_HEADER) is None:
        raise WebhookRejected(f"missing {SIGNATURE_HEADER} header", status=401)
    valid, payload = _signed_payload(request_body, headers, secret)
    if not valid:
        raise WebhookRejected(f"wrong {SIGNATURE_HEADER}", status=401)
    return payload if payload is not None else decode_json(request_body)


def basic_auth_valid(headers: Mapping[str, str], username: str, password: Secret | None) -> bool:
    """Whether `Authorization: Basic` carries exactly `username` and `password` (constant-time);
    always False when no password is configured."""
    if password is None or not username:
        return False
    value = header(headers, "Authorization")
    if not value or not value.lower().startswith("basic ") or len(value) > 1024:
        return False
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    user, _, given = decoded.partition(b":")
    # Both compared, whatever the first gives: the time says nothing about which was wrong.
    user_ok = hmac.compare_digest(user, username.encode("utf-8"))
    password_ok = hmac.compare_digest(given, password.reveal().encode("utf-8"))
    return user_ok and password_ok


class Unusable(Exception):
    """A field of an authenticated record that we cannot use; `reason` is its counted verdict."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# Provider message ids are short tokens (Cliqtel: a number or a UUID; Clickatell: 32 hex digits).
MAX_ID_CHARS = 128
# Phone numbers and inbound texts: generous bounds of what a provider can deliver.
MAX_NUMBER_CHARS = 32
MAX_INBOUND_CHARS = 10_000
# Timestamps outside these years are not times of a message of ours.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_BIGINT = 2**63 - 1


def _storable(text: str) -> bool:
    # PostgreSQL text holds no NUL, and UTF-8 no lone surrogate (JSON's "\ud800" gives one).
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def ident(value: Any, field: str) -> str:
    """A provider's id (a string or an integer) as text; Unusable("bad_id") otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Unusable("bad_id", f"{field} is not a string or an integer")
    text = str(value).strip() if isinstance(value, str) else str(value)
    if not text or len(text) > MAX_ID_CHARS:
        raise Unusable("bad_id", f"{field} is empty or longer than {MAX_ID_CHARS} characters")
    if not text.isprintable() or not _storable(text):
        raise Unusable("bad_id", f"{field} has control characters or invalid text")
    return text


def stored_text(value: Any, field: str, max_chars: int) -> str:
    """A text field (a number, a body) as storable text; Unusable("bad_text") otherwise."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Unusable("bad_text", f"{field} is not text")
    text = str(value)
    if len(text) > max_chars or not _storable(text):
        raise Unusable("bad_text", f"{field} is longer than {max_chars} characters or not storable text")
    return text


def clean_text(value: Any, max_chars: int = 500) -> str | None:
    """A free-text detail (an error description) as storable text, cut and cleaned, or None."""
    if value is None or value == "":
        return None
    text = str(value)[:max_chars].replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8")


def job_ref(value: Any) -> int | None:
    """Our job id echoed by the provider (ASCII digits that fit a bigint), or None when the value is
    not one of ours (Clickatell's body keys start with "b")."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    text = str(value) if isinstance(value, int | str) else ""
    if not text.isascii() or not text.isdigit():
        if text.isdigit():  # digits, but not ASCII ones ("²")
            raise Unusable("bad_ref", "clientMessageId has non-ASCII digits")
        return None
    if len(text) > 19 or int(text) > _BIGINT:
        raise Unusable("bad_ref", "clientMessageId is a number larger than any job id")
    return int(text)


def event_time(value: Any, field: str) -> datetime | None:
    """`parse_time` for a record's time, bounded to 2000–2100; Unusable("bad_time") for a value
    that is there but is no such time (1e20, NaN, a 20-digit string, "yesterday")."""
    if value is None or value == "":
        return None
    try:
        parsed = parse_time(value)
    except (ValueError, OverflowError, OSError):
        parsed = None
    if parsed is None or not _EARLIEST <= parsed < _LATEST:
        raise Unusable("bad_time", f"{field} is not a time between 2000 and 2100")
    return parsed


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string or a UNIX timestamp (seconds or milliseconds) as an aware datetime, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            return None
        seconds = float(value) / 1000.0 if value > 1e11 else float(value)
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return parse_time(int(text)) if len(text) <= 16 else None
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def decimal_amount(value: object, where: str) -> Decimal:
    """A money amount from a JSON reply, exactly (no float on the way); ProviderError naming `where`."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ProviderError(f"{where}: {value!r} is not an amount") from None
    if not amount.is_finite():
        raise ProviderError(f"{where}: {value!r} is not an amount")
    return amount
