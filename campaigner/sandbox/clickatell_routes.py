"""Clickatell's SMS REST API v2 as its "SMS REST API V2.0" document shows it, JSON only, at /clickatell.

Routes (relative to /clickatell), each as the document shows it unless marked:
  POST   /rest/message                 send one text to up to `clickatell_max_batch` numbers (600; the
                                       document says 500, 200 and 600 in different places):
                                       {"data": {"message": [{"accepted", "to", "apiMessageId"} or
                                       {"accepted": false, "to", "error": {"code", "description"}}]}}
                                       under 202 (all accepted), 207 (mixed) or, when every number is
                                       refused alike, that refusal's status (400 for 105; 410 for
                                       114/121/122/128/250, "blocked, delisted, or cannot be routed").
                                       Errors of the whole request are top-level {"error": {...}}.
  GET    /rest/message/{apiMessageId}  the "Query Message" command (the document names it but shows
                                       no route: inferred from DELETE /rest/message/{id})
  DELETE /rest/message/{apiMessageId}  stop a scheduled or still queued message: "006"
  GET    /rest/account/balance         {"data": {"balance": "300.50"}}: the credits wallet, a string
  GET    /rest/coverage/{msisdn}       {"data": {"routable", "destination", "minimumCharge"}} (credits)

Send parameters honoured: text, to, from, clientMessageId (120 when it holds a space), unicode
(a text outside GSM-7 without unicode=1 is 116), maxMessageParts (1-3; else the connection's
`clickatell_max_parts`, 3; more parts than allowed is 113 for the whole request), callback (the
bitmask status callbacks follow, see callbacks.py), mo (recorded; a reply is forwarded only to a
message sent with mo=1), validityPeriod (minutes; still queued after it: "010" expired),
scheduledDeliveryTime (at most 7 days ahead; "011" until then), bypassDNCCheck. Each part costs the
destination's credits (`clickatell_credits_per_part`, default 0.8); too few credits is 402 / 301.

Where the document is silent the sandbox does what real Clickatell accounts commonly do, and says
so where it does it: message status codes other than 006 (002 queued ... 014), the HTTP status of
130, the error of a stop that comes too late. Error objects also carry "documentation", a link, as
the document's "embedded resource links to our online technical documents" promise.

Sandbox extensions (not in the document; the client must not depend on them): the HTTP status 429
with code "429" when the sandbox's own rate limits refuse a request, and the faults of faults.py.
The real API also speaks XML; the sandbox only JSON. A read-only key cannot send (401 / 001:
Clickatell has no scopes).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from campaigner.sandbox.callbacks import PROGRESSION
from campaigner.sandbox.clickatell_callbacks import CLICKATELL_STATUS, status_code
from campaigner.sandbox.common import (
    STATE,
    Admitted,
    ApiError,
    admit,
    after_faults,
    format_retry_after,
    json_response,
    parse_since,
)
from campaigner.sandbox.faults import DropConnection, Fault, drop
from campaigner.sandbox.state import Message, SandboxState
from campaigner.text.segments import count_segments, is_gsm7

MSISDN = re.compile(r"^[1-9][0-9]{6,14}$")
DOCS = "https://www.clickatell.com/help/apidocs/error/{code}.htm"

DESCRIPTIONS = {
    "001": "Authentication failed",
    "007": "IP lockdown violation",
    "100": "Data malformed",
    "101": "Invalid or missing parameters",
    "102": "Invalid user data header",
    "105": "Invalid destination address",
    "106": "Invalid source address",
    "109": "Missing message ID",
    "113": "Maximum message parts exceeded",
    "114": "Cannot route message",
    "116": "Invalid unicode data",
    "120": "clientMessageId contains space(s)",
    "121": "Destination mobile number blocked",
    "122": "Destination mobile opted out",
    "123": "Invalid Sender ID",
    "128": "Number delisted",
    "130": "Maximum MT limit exceeded",
    "160": "HTTP method is not supported on this resource",
    "161": "Resource does not exist",
    "165": "Invalid or no version header specified",
    "166": "Invalid accept header specified",
    "167": "Invalid or no content-type specified",
    "250": "Destination address is on DNC list - Do not contact receiver",
    "301": "No credit left",
    "429": "Too many requests",
    "901": "Internal error - please retry",
}
# HTTP status of a send in which every number was refused, by their error code. 114 joins the 410s:
# the document's 410 is "blocked, delisted, or cannot be routed".
REFUSAL_STATUS = {"105": 400, "114": 410, "121": 410, "122": 410, "128": 410, "250": 410}
STATUS_CODES = CLICKATELL_STATUS
# UCS-2: 70 units in one part, 67 in each part of a longer message.
UCS2_SINGLE, UCS2_MULTI = 70, 67
# "Schedule a message to be sent at a specific time, of up to 7 days ahead."
MAX_SCHEDULE_AHEAD = 7 * 24 * 3600.0
# validityPeriod's default: "24 hours".
DEFAULT_VALIDITY_MINUTES = 24 * 60


def _error(
    status: int, code: str, headers: dict[str, str] | None = None, detail: str | None = None
) -> ApiError:
    return ApiError(status, code, detail or DESCRIPTIONS.get(code, "Error"), headers or {})


def error_object(code: str, description: str | None = None) -> dict[str, str]:
    """Clickatell's error object."""
    return {
        "code": code,
        "description": description or DESCRIPTIONS.get(code, "Error"),
        "documentation": DOCS.format(code=code),
    }


UNAUTHENTICATED = _error(401, "001")
FORBIDDEN = _error(401, "001", detail="Authentication failed: this token may not send messages")
RATE_LIMITED = _error(429, "429")
FAULTS = {Fault.ERROR_500: _error(500, "901"), Fault.ERROR_503: _error(503, "901")}
# An hour, when `mt_limit_until` names no time.
MT_LIMIT_DEFAULT_SECONDS = 3600.0


def mt_limit_error(state: SandboxState) -> ApiError:
    """Error 130 "Maximum MT limit exceeded until <UNIX TIMESTAMP>". The document gives it no HTTP
    status; 429 ("generic rate-limiting error") is the one whose meaning fits a cap on sending."""
    until = state.settings.mt_limit_until or time.time() + MT_LIMIT_DEFAULT_SECONDS
    return _error(429, "130", detail=f"Maximum MT limit exceeded until {int(until)}")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.config_dict[STATE]
    try:
        return await handler(request)
    except ApiError as error:
        if error.status in (400, 404, 410):
            state.reject(f"{error.status}_{error.code}")
        return json_response({"error": error_object(error.code, error.message)}, error.status, error.headers)
    except DropConnection as dropped:
        drop(request, reset=dropped.reset)
        return web.Response(status=500)  # never written: the transport is gone
    except web.HTTPNotFound:
        return json_response({"error": error_object("161")}, 404)
    except web.HTTPMethodNotAllowed:
        return json_response({"error": error_object("160", "HTTP method is not supported")}, 405)


def _fault_errors(state: SandboxState) -> dict[Fault, ApiError]:
    if state.settings.mt_limit_rate:
        return {**FAULTS, Fault.MT_LIMIT: mt_limit_error(state)}
    return FAULTS


def _admit(request: web.Request, route: str, write: bool) -> tuple[SandboxState, Admitted]:
    state = request.config_dict[STATE]
    admitted = admit(
        request,
        state,
        route,
        write=write,
        unauthenticated=UNAUTHENTICATED,
        forbidden=FORBIDDEN,
        rate_limited=RATE_LIMITED,
        fault_errors=_fault_errors(state),
    )
    headers = admitted.headers
    allowed = state.settings.allowed_ips
    if allowed and request.remote not in allowed:
        state.reject("401_007")
        raise _error(401, "007", headers)
    if request.headers.get("X-Version", "").strip() != "1":
        raise _error(400, "165", headers)
    accept = request.headers.get("Accept", "")
    if accept and not any(
        part.split(";")[0].strip() in ("application/json", "*/*") for part in accept.split(",")
    ):
        # The real API also speaks XML; the sandbox only JSON.
        raise _error(400, "166", headers)
    return state, admitted


def status_json(message: Message) -> dict[str, Any]:
    """A message as the status query shows it."""
    code, description = status_code(message)
    return {
        "apiMessageId": message.api_message_id,
        "clientMessageId": message.client_message_id or "",
        "to": message.to.lstrip("+"),
        "charge": message.cost,
        "messageStatus": code,
        "description": description,
    }


def _parse(raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _error(400, "100", headers) from None
    if not isinstance(payload, dict):
        raise _error(400, "100", headers)
    return payload


def _refusal(state: SandboxState, msisdn: str, bypass_dnc: bool, unroutable: tuple[str, ...]) -> str | None:
    """The per-recipient error code for `msisdn`, or None when it can be sent to."""
    e164 = "+" + msisdn
    s = state.settings
    if not MSISDN.match(msisdn) or e164 in s.invalid_destinations:
        return "105"
    if msisdn.startswith(unroutable):
        return "114"
    if e164 in s.blocked:
        return "121"
    if e164 in s.opted_out:
        return "122"
    if e164 in s.delisted:
        return "128"
    if e164 in s.dnc and not bypass_dnc:
        return "250"
    return None


def unroutable_prefixes(state: SandboxState) -> tuple[str, ...]:
    """`settings.unroutable_prefixes` as MSISDN digits (for str.startswith)."""
    return tuple(prefix.lstrip("+") for prefix in state.settings.unroutable_prefixes)


def _option(payload: dict[str, Any], name: str, allowed: range, default: int, headers: dict[str, str]) -> int:
    """An integer parameter (a JSON number or a string of digits) within `allowed`, else 400 / 101."""
    value = payload.get(name)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise _error(400, "101", headers, f"Invalid or missing parameters: {name}")
    return value


def parts_of(text: str, unicode: bool) -> int:
    """The parts `text` is sent in: GSM-7, or UCS-2 when it needs it or `unicode` asks for it."""
    count = count_segments(text)
    if unicode and count.encoding == "GSM-7":
        # UCS-2 asked for a GSM text: each GSM character is one UCS-2 unit (all are in the BMP).
        return 1 if len(text) <= UCS2_SINGLE else math.ceil(len(text) / UCS2_MULTI)
    return count.segments


def _scheduled_at(payload: dict[str, Any], now: float, headers: dict[str, str]) -> float | None:
    """`scheduledDeliveryTime` as Unix time (None: send now), at most 7 days ahead, else 400 / 101."""
    value = payload.get("scheduledDeliveryTime")
    if value in (None, ""):
        return None
    try:
        # The document asks for GMT+0 ("2015-06-30T14:00:00Z"); an explicit offset is converted.
        moment = parse_since(str(value))
    except ValueError:
        raise _error(400, "101", headers, "Invalid or missing parameters: scheduledDeliveryTime") from None
    if moment > now + MAX_SCHEDULE_AHEAD:
        detail = "Invalid or missing parameters: scheduledDeliveryTime is more than 7 days ahead"
        raise _error(400, "101", headers, detail)
    # A time already past is sent now (the document is silent; gateways deliver such messages at once).
    return moment if moment > now else None


async def send(request: web.Request) -> web.Response:
    """POST /rest/message."""
    raw = await request.read()
    state, admitted = _admit(request, "clickatell.send", write=True)
    headers = admitted.headers
    s = state.settings
    if request.content_type != "application/json":
        raise _error(400, "167", headers)
    payload = _parse(raw, headers)
    text = payload.get("text")
    to = payload.get("to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(text, str) or not text or not isinstance(to, list) or not to:
        raise _error(400, "101", headers, "Invalid or missing parameters: text and to are required")
    if len(to) > s.clickatell_max_batch:
        detail = f"Invalid or missing parameters: at most {s.clickatell_max_batch} destinations"
        raise _error(400, "101", headers, detail)
    client_id = payload.get("clientMessageId")
    if client_id is not None:
        if not isinstance(client_id, str):
            raise _error(400, "101", headers, "Invalid or missing parameters: clientMessageId")
        if " " in client_id:
            raise _error(400, "120", headers)
    sender = payload.get("from")
    sms_numbers = [n for n in s.numbers if n.sms_enabled]
    if sender is not None:
        number = next((n for n in sms_numbers if str(sender).lstrip("+") == n.number.lstrip("+")), None)
        if number is None:
            raise _error(400, "106", headers)
    else:
        number = sms_numbers[0] if sms_numbers else None
    unicode = _option(payload, "unicode", range(2), 0, headers) == 1
    max_parts = _option(payload, "maxMessageParts", range(1, 4), s.clickatell_max_parts, headers)
    callback = _option(payload, "callback", range(8), 0, headers)
    mo = _option(payload, "mo", range(2), 0, headers) == 1
    validity = _option(payload, "validityPeriod", range(1, 1 << 31), DEFAULT_VALIDITY_MINUTES, headers)
    scheduled_at = _scheduled_at(payload, time.time(), headers)
    bypass_dnc = str(payload.get("bypassDNCCheck", "0")) == "1"
    if not unicode and not is_gsm7(text):
        # The document does not say what happens to such a text: real gateways substitute the
        # characters or refuse; the sandbox refuses, so a client that forgets the flag finds out.
        raise _error(400, "116", headers)
    parts = parts_of(text, unicode)
    if parts > max_parts:
        # The text is shared by every number of the request, so the whole request is refused.
        detail = f"Maximum message parts exceeded: {parts} parts, at most {max_parts}"
        raise _error(400, "113", headers, detail)

    unroutable = unroutable_prefixes(state)
    refusals = [
        _refusal(state, item, bypass_dnc, unroutable) if isinstance(item, str) else "105" for item in to
    ]
    accepted = sum(1 for code in refusals if code is None)
    if accepted:
        limit = state.message_window.limit
        if accepted > limit and state.message_window.enforce:
            # No window could ever hold it: a 429 would be retried forever.
            detail = f"Invalid or missing parameters: more than {limit} messages per second in one request"
            raise _error(400, "101", headers, detail)
        numbers = [item for item, code in zip(to, refusals, strict=True) if code is None]
        charge = sum(parts * state.credits_per_part(item) for item in numbers)
        if state.credits + 1e-9 < charge:
            state.reject("402")
            raise _error(402, "301", headers)
        decision = state.message_window.acquire(admitted.now, accepted)
        if not decision.allowed:
            state.request_window(admitted.key).release(admitted.now)
            state.reject("429_messages")
            retry = format_retry_after(decision.retry_after, s.retry_after_fractional)
            raise _error(429, "429", {**headers, "Retry-After": retry})

    progression = request.config_dict[PROGRESSION]
    results: list[dict[str, Any]] = []
    for item, code in zip(to, refusals, strict=True):
        if code is not None:
            state.reject(f"message_{code}")
            # A refused number carries its own error; the reply has no top-level one.
            results.append({"accepted": False, "to": item, "error": error_object(code)})
            continue
        message = state.store.add(
            api="clickatell",
            direction="outbound",
            from_=number.number if number else "",
            to="+" + item,
            body=text,
            segments=parts,
            cost=state.debit_credits(parts * state.credits_per_part(item)),
            number_id=number.id if number else None,
            client_message_id=client_id,
            status_callback_url=s.clickatell_callback_url or None,
            status="scheduled" if scheduled_at else "queued",
            callback=callback,
            mo=mo,
            scheduled_at=scheduled_at,
            validity_seconds=validity * s.clickatell_minute_seconds,
        )
        state.accepted(message)
        progression.schedule(message)
        results.append({"accepted": True, "to": item, "apiMessageId": message.api_message_id})

    await after_faults(state, "clickatell.send")
    return json_response({"data": {"message": results}}, _send_status(refusals), headers)


def _send_status(refusals: list[str | None]) -> int:
    """202 when every number was accepted; when none was, the status of their refusal if they share
    one (400 for 105; 410 "blocked, delisted, or cannot be routed"); otherwise 207 Multi-status."""
    if all(code is None for code in refusals):
        return 202
    if all(code is not None for code in refusals):
        statuses = {REFUSAL_STATUS.get(str(code), 400) for code in refusals}
        if len(statuses) == 1:
            return statuses.pop()
    return 207


async def get_message(request: web.Request) -> web.Response:
    """GET /rest/message/{apiMessageId}: the document's "Query Message" command. It shows neither
    its route nor its reply; the route is inferred from DELETE /rest/message/{id}, the reply holds
    the status as the stop and the callbacks show it (messageStatus, description, charge)."""
    state, admitted = _admit(request, "clickatell.get", write=False)
    message = state.store.by_api_id.get(request.match_info["id"])
    if message is None:
        raise _error(404, "161", admitted.headers, "Resource does not exist: no such apiMessageId")
    return json_response({"data": status_json(message)}, 200, admitted.headers)


async def stop_message(request: web.Request) -> web.Response:
    """DELETE /rest/message/{apiMessageId}: "can only stop messages that have been scheduled for
    delivery in the future or may be queued within our router"; the charge is refunded."""
    state, admitted = _admit(request, "clickatell.stop", write=True)
    message = state.store.by_api_id.get(request.match_info["id"])
    if message is None:
        raise _error(404, "161", admitted.headers, "Resource does not exist: no such apiMessageId")
    if message.status not in ("scheduled", "queued"):
        # The document gives no code for this; 101 is its nearest ("one or more parameters are invalid").
        detail = "Invalid or missing parameters: the message is no longer queued and cannot be stopped"
        raise _error(400, "101", admitted.headers, detail)
    state.credits = round(state.credits + message.cost, 6)
    request.config_dict[PROGRESSION].cancel(message)
    code, description = STATUS_CODES["cancelled"]
    data = {"messageStatus": code, "description": description, "apiMessageId": message.api_message_id}
    return json_response({"data": data}, 200, admitted.headers)


def credits_text(amount: float) -> str:
    """Credits as the balance shows them, a string: "300.50" (2 decimals, more when a charge has them)."""
    text = f"{amount:.6f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


async def balance(request: web.Request) -> web.Response:
    """GET /rest/account/balance: the credits wallet, {"data": {"balance": "300.50"}}."""
    state, admitted = _admit(request, "clickatell.balance", write=False)
    return json_response({"data": {"balance": credits_text(state.credits)}}, 200, admitted.headers)


async def coverage(request: web.Request) -> web.Response:
    """GET /rest/coverage/{msisdn}: routable unless its prefix is unroutable; minimumCharge is the
    credits of one part to it (0 where nothing can be sent)."""
    state, admitted = _admit(request, "clickatell.coverage", write=False)
    msisdn = request.match_info["msisdn"]
    if not MSISDN.match(msisdn):
        raise _error(400, "105", admitted.headers)
    routable = not msisdn.startswith(unroutable_prefixes(state))
    charge = state.credits_per_part(msisdn) if routable else 0
    data = {"routable": routable, "destination": msisdn, "minimumCharge": charge}
    return json_response({"data": data}, 200, admitted.headers)


def clickatell_app(state: SandboxState) -> web.Application:
    """The sub-application mounted at /clickatell."""
    del state  # reached through request.config_dict
    app = web.Application(middlewares=[_errors])
    app.router.add_post("/rest/message", send)
    app.router.add_get("/rest/message/{id}", get_message)
    app.router.add_delete("/rest/message/{id}", stop_message)
    app.router.add_get("/rest/account/balance", balance)
    app.router.add_get("/rest/coverage/{msisdn}", coverage)
    return app
