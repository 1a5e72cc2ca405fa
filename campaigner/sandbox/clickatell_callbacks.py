"""Clickatell's callbacks as the sandbox sends them: message status, and two-way (MO) replies.

The document says only that the callback system "will automatically push HTTP requests to your
server whenever the status of a message changes", with "information about the message status and
charge", and that `callback` takes 0-7 (default 0). It fixes no format, method or authentication,
so the sandbox sends what Clickatell commonly sends:

- `callback` as a bitmask: 1 intermediate statuses (002 queued, 003 delivered to gateway, 011
  scheduled), 2 final ones (004 received by recipient, 008 OK), 4 errors (005, 006, 007, 009, 010,
  012, 013, 014); 0 or absent: no callback at all.
- `clickatell_callback_shape` "form" (default): a form-encoded POST of the legacy fields `api_id`,
  `apiMsgId`, `cliMsgId`, `to`, `timestamp` (Unix seconds), `from`, `status` ("004"), `charge`
  (credits, "0.800000"); "get": the same fields as a query string on a GET; "json": a POST of
  {"data": {"apiMessageId", "clientMessageId", "to", "from", "timestamp" (ms), "messageStatus",
  "statusDescription", "charge"}}.
- MO replies in the same shape setting: legacy `api_id`, `moMsgId`, `from`, `to`, `timestamp`
  ("YYYY-MM-DD HH:MM:SS", UTC), `text`, `charset`, `udh`, the text percent-encoded in its
  charset (ISO-8859-1 when it fits, else UTF-16BE); JSON {"data": {"moMessageId", "from", "to",
  "text", "timestamp" (ms), "charset"}}, the text a JSON string, charset naming how it arrived.
- Authentication is what Clickatell offers: the URL exactly as configured (a `?token=...` in it is
  kept; GET fields are added after it), and HTTP Basic auth when the URL holds user:password. No
  signature: the X-Cliqtel-Signature header is a sandbox extension, off (`clickatell_callback_signed`).

Numbers are written as Clickatell writes them: international digits, no "+".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from campaigner.sandbox.common import Outgoing, dumps
from campaigner.sandbox.settings import SandboxSettings
from campaigner.sandbox.state import Message

# The sandbox's message states as Clickatell's status codes. The document shows only 006; the rest
# are Clickatell's commonly documented message statuses.
CLICKATELL_STATUS = {
    "scheduled": ("011", "Message scheduled for later delivery"),
    "queued": ("002", "Message queued"),
    "sent": ("003", "Delivered to gateway"),
    "delivered": ("004", "Received by recipient"),
    "failed": ("007", "Error delivering message"),
    "cancelled": ("006", "User cancelled message delivery"),
    "expired": ("010", "Message expired"),
}
INTERMEDIATE = frozenset({"002", "003", "011"})
FINAL = frozenset({"004", "008"})
ERRORS = frozenset({"005", "006", "007", "009", "010", "012", "013", "014"})
FORM = "application/x-www-form-urlencoded"


def status_code(message: Message) -> tuple[str, str]:
    """(code, description) of `message`'s status; "001" "Message unknown" for any other state."""
    return CLICKATELL_STATUS.get(message.status, ("001", "Message unknown"))


def wanted(callback: int, code: str) -> bool:
    """Whether a message sent with `callback` gets a callback for status `code`."""
    bit = 1 if code in INTERMEDIATE else 2 if code in FINAL else 4 if code in ERRORS else 0
    return bool(callback & bit)


def _digits(number: str) -> str:
    return number.lstrip("+")


def status_callback(settings: SandboxSettings, message: Message, url: str) -> Outgoing:
    """The status callback of `message` to `url`, in `settings.clickatell_callback_shape`."""
    code, description = status_code(message)
    if settings.clickatell_callback_shape == "json":
        data = {
            "apiMessageId": message.api_message_id,
            "clientMessageId": message.client_message_id or "",
            "to": _digits(message.to),
            "from": _digits(message.from_),
            "timestamp": int(message.updated_at * 1000),
            "messageStatus": code,
            "statusDescription": description,
            "charge": message.cost,
        }
        return _json(url, data)
    fields = [
        ("api_id", settings.clickatell_api_id),
        ("apiMsgId", message.api_message_id),
        ("cliMsgId", message.client_message_id or ""),
        ("to", _digits(message.to)),
        ("timestamp", str(int(message.updated_at))),
        ("from", _digits(message.from_)),
        ("status", code),
        ("charge", f"{message.cost:.6f}"),
    ]
    return _legacy(settings, url, "&".join(f"{k}={quote_plus(v)}" for k, v in fields))


def charset_of(text: str) -> str:
    """The charset an MO text is passed on in: ISO-8859-1 when it fits, else UTF-16BE."""
    try:
        text.encode("iso-8859-1")
    except UnicodeEncodeError:
        return "UTF-16BE"
    return "ISO-8859-1"


def mo_callback(settings: SandboxSettings, message: Message, url: str) -> Outgoing:
    """The two-way (MO) callback of inbound `message` to `url`, in the callback shape."""
    charset = charset_of(message.body)
    if settings.clickatell_callback_shape == "json":
        data = {
            "moMessageId": message.api_message_id,
            "from": _digits(message.from_),
            "to": _digits(message.to),
            "text": message.body,
            "timestamp": int(message.created_at * 1000),
            "charset": charset,
        }
        return _json(url, data)
    when = datetime.fromtimestamp(message.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
    fields = [
        ("api_id", settings.clickatell_api_id),
        ("moMsgId", message.api_message_id),
        ("from", _digits(message.from_)),
        ("to", _digits(message.to)),
        ("timestamp", when),
    ]
    encoded = [f"{k}={quote_plus(v)}" for k, v in fields]
    encoded.append("text=" + quote_plus(message.body.encode(charset.lower())))
    encoded += [f"charset={charset}", "udh="]
    return _legacy(settings, url, "&".join(encoded))


def _json(url: str, data: dict[str, Any]) -> Outgoing:
    body = dumps({"data": data}).encode()
    return Outgoing("POST", url, body, {"Content-Type": "application/json"})


def _legacy(settings: SandboxSettings, url: str, encoded: str) -> Outgoing:
    """Form fields as a form POST, or as a query string added after the URL's own (its token)."""
    if settings.clickatell_callback_shape == "get":
        joiner = "&" if "?" in url else "?"
        return Outgoing("GET", url + joiner + encoded)
    return Outgoing("POST", url, encoded.encode("ascii"), {"Content-Type": FORM})
