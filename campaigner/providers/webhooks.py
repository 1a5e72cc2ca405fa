"""Webhook authentication and decoding shared by the provider clients.

Cliqtel signs every callback: `X-Cliqtel-Signature` is the hex HMAC-SHA256 of the JSON payload with
the account's webhook secret. We verify it over the raw body (what was actually sent), and, because
the reference computes it as `JSON.stringify(payload)`, also over the compact re-serialisation of the
parsed body; both need the secret, so accepting either weakens nothing. Comparison is constant-time.

Clickatell's REST v2.0 document describes callbacks but no signature. We accept a Clickatell callback
when it carries a valid `X-Cliqtel-Signature` made with the same secret (what the sandbox sends), or
HTTP Basic auth whose password is the webhook secret (what Clickatell's callback settings can be
configured to send); anything else is rejected with 401.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from campaigner.config import Secret
from campaigner.errors import ProviderError
from campaigner.model.provider import WebhookRejected

SIGNATURE_HEADER = "X-Cliqtel-Signature"


def sign(body: bytes, secret: Secret) -> str:
    """The hex HMAC-SHA256 of `body` with `secret`: what a Cliqtel callback carries."""
    return hmac.new(secret.reveal().encode("utf-8"), body, hashlib.sha256).hexdigest()


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


def decode_json(body: bytes) -> Any:
    """The parsed body; WebhookRejected(400) when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected("body is not valid JSON", status=400) from None


def signature_valid(body: bytes, headers: Mapping[str, str], secret: Secret) -> bool:
    """Whether `headers` carry a valid X-Cliqtel-Signature for `body` (constant-time comparison)."""
    given = header(headers, SIGNATURE_HEADER)
    if not given:
        return False
    given = given.strip().lower()
    if given.startswith("sha256="):
        given = given[len("sha256=") :]
    if hmac.compare_digest(given.encode("ascii", "replace"), sign(body, secret).encode("ascii")):
        return True
    try:
        compact = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return compact != body and hmac.compare_digest(
        given.encode("ascii", "replace"), sign(compact, secret).encode("ascii")
    )


def verify_signed(request_body: bytes, headers: Mapping[str, str], secret: Secret) -> Any:
    """Verify a Cliqtel signature and return the parsed JSON body.

    Raises WebhookRejected(401) when the signature is missing or wrong, (400) when the body is not JSON.
    The signature is checked first, so an unauthenticated caller learns nothing about parsing.
    """
    if header(headers, SIGNATURE_HEADER) is None:
        raise WebhookRejected(f"missing {SIGNATURE_HEADER} header", status=401)
    if not signature_valid(request_body, headers, secret):
        raise WebhookRejected(f"wrong {SIGNATURE_HEADER}", status=401)
    return decode_json(request_body)


def basic_auth_valid(headers: Mapping[str, str], secret: Secret) -> bool:
    """Whether `Authorization: Basic` carries `secret` as its password (any user name)."""
    value = header(headers, "Authorization")
    if not value or not value.lower().startswith("basic "):
        return False
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    _, _, password = decoded.partition(":")
    return hmac.compare_digest(password.encode("utf-8"), secret.reveal().encode("utf-8"))


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string or a UNIX timestamp (seconds or milliseconds) as an aware datetime, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) / 1000.0 if value > 1e11 else float(value)
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return parse_time(int(text))
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
