"""Clickatell's SMS REST API v2 (Clickatell's "SMS REST API V2.0"), JSON only, mounted at /clickatell.

Routes (relative to /clickatell):
  POST   /rest/message                       batch send: 202 all accepted, 207 mixed, 400/410 none
  GET    /rest/message/{apiMessageId}        message status (messageStatus "002".."007", charge)
  DELETE /rest/message/{apiMessageId}        stop a message still queued (e.g. scheduled): 006
  GET    /rest/account/balance               {"data": {"balance": "99.992"}} (the sandbox wallet)
  GET    /rest/coverage/{msisdn}             routable, destination, minimumCharge

Errors: {"error": {"code": "001", "description": ..., "documentation": ...}}; per-message errors
in a batch use the same object under each refused message. A read-only key cannot send (401/001:
Clickatell has no scopes). Rate limiting answers 429 with code "429" (undocumented in 003).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from campaigner.sandbox.callbacks import CLICKATELL_STATUS, PROGRESSION
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

MSISDN = re.compile(r"^[1-9][0-9]{6,14}$")
DOCS = "https://www.clickatell.com/help/apidocs/error/{code}.htm"

DESCRIPTIONS = {
    "001": "Authentication failed",
    "007": "IP lockdown violation",
    "100": "Data malformed",
    "101": "Invalid or missing parameters",
    "105": "Invalid destination address",
    "106": "Invalid source address",
    "109": "Missing message ID",
    "113": "Maximum message parts exceeded",
    "120": "clientMessageId contains space(s)",
    "121": "Destination mobile number blocked",
    "122": "Destination mobile opted out",
    "128": "Number delisted",
    "161": "Resource does not exist",
    "165": "Invalid or no version header specified",
    "166": "Invalid accept header specified",
    "167": "Invalid or no content-type specified",
    "250": "Destination address is on DNC list - Do not contact receiver",
    "301": "No credit left",
    "429": "Too many requests",
    "901": "Internal error - please retry",
}
# HTTP status of a send in which no message was accepted, by the (single) error code.
REFUSAL_STATUS = {"105": 400, "113": 400, "121": 410, "122": 410, "128": 410, "250": 410}
STATUS_CODES = CLICKATELL_STATUS


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
        fault_errors=FAULTS,
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
    code, description = STATUS_CODES.get(message.status, ("001", "Message unknown"))
    return {
        "apiMessageId": message.api_message_id,
        "clientMessageId": message.client_message_id or "",
        "to": message.to.lstrip("+"),
        "charge": message.cost,
        "messageStatus": code,
        "description": description,
    }


def _refusal(state: SandboxState, msisdn: str, bypass_dnc: bool) -> str | None:
    """The per-recipient error code for `msisdn`, or None when it can be sent to."""
    if not MSISDN.match(msisdn):
        return "105"
    e164 = "+" + msisdn
    s = state.settings
    if e164 in s.blocked:
        return "121"
    if e164 in s.opted_out:
        return "122"
    if e164 in s.delisted:
        return "128"
    if e164 in s.dnc and not bypass_dnc:
        return "250"
    return None


def _parse(raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _error(400, "100", headers) from None
    if not isinstance(payload, dict):
        raise _error(400, "100", headers)
    return payload


async def send(request: web.Request) -> web.Response:
    """POST /rest/message."""
    raw = await request.read()
    state, admitted = _admit(request, "clickatell.send", write=True)
    headers = admitted.headers
    if request.content_type != "application/json":
        raise _error(400, "167", headers)
    payload = _parse(raw, headers)
    text = payload.get("text")
    to = payload.get("to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(text, str) or not text or not isinstance(to, list) or not to:
        raise _error(400, "101", headers, "Invalid or missing parameters: text and to are required")
    if len(to) > state.settings.clickatell_max_batch:
        detail = f"Invalid or missing parameters: at most {state.settings.clickatell_max_batch} destinations"
        raise _error(400, "101", headers, detail)
    client_id = payload.get("clientMessageId")
    if client_id is not None:
        if not isinstance(client_id, str):
            raise _error(400, "101", headers, "Invalid or missing parameters: clientMessageId")
        if " " in client_id:
            raise _error(400, "120", headers)
    sender = payload.get("from")
    sms_numbers = [n for n in state.settings.numbers if n.sms_enabled]
    if sender is not None:
        number = next((n for n in sms_numbers if str(sender).lstrip("+") == n.number.lstrip("+")), None)
        if number is None:
            raise _error(400, "106", headers)
    else:
        number = sms_numbers[0] if sms_numbers else None
    scheduled_at: float | None = None
    if payload.get("scheduledDeliveryTime"):
        try:
            scheduled_at = parse_since(str(payload["scheduledDeliveryTime"]))
        except ValueError:
            raise _error(
                400, "101", headers, "Invalid or missing parameters: scheduledDeliveryTime"
            ) from None
    segments = state.segments_of(text)
    max_parts = payload.get("maxMessageParts")
    too_long = isinstance(max_parts, int) and not isinstance(max_parts, bool) and segments > max_parts
    bypass_dnc = str(payload.get("bypassDNCCheck", "0")) == "1"

    refusals: list[str | None] = []
    for item in to:
        if not isinstance(item, str):
            refusals.append("105")
        elif too_long:
            refusals.append("113")
        else:
            refusals.append(_refusal(state, item, bypass_dnc))
    accepted = sum(1 for code in refusals if code is None)
    if accepted:
        limit = state.message_window.limit
        if accepted > limit and state.message_window.enforce:
            # No window could ever hold it: a 429 would be retried forever.
            detail = f"Invalid or missing parameters: more than {limit} messages per second in one request"
            raise _error(400, "101", headers, detail)
        if not state.can_afford(segments * accepted):
            state.reject("402")
            raise _error(402, "301", headers)
        decision = state.message_window.acquire(admitted.now, accepted)
        if not decision.allowed:
            state.request_window(admitted.key).release(admitted.now)
            state.reject("429_messages")
            retry = format_retry_after(decision.retry_after, state.settings.retry_after_fractional)
            raise _error(429, "429", {**headers, "Retry-After": retry})

    progression = request.config_dict[PROGRESSION]
    results: list[dict[str, Any]] = []
    for item, code in zip(to, refusals, strict=True):
        if code is not None:
            state.reject(f"message_{code}")
            results.append({"accepted": False, "to": item, "apiMessageId": "", "error": error_object(code)})
            continue
        message = state.store.add(
            api="clickatell",
            direction="outbound",
            from_=number.number if number else "",
            to="+" + item,
            body=text,
            segments=segments,
            cost=state.debit(segments),
            number_id=number.id if number else None,
            client_message_id=client_id,
            status_callback_url=state.settings.clickatell_callback_url or None,
        )
        state.accepted(message)
        progression.schedule(message, scheduled_at if scheduled_at and scheduled_at > time.time() else None)
        results.append({"accepted": True, "to": item, "apiMessageId": message.api_message_id})

    await after_faults(state, "clickatell.send")
    body: dict[str, Any] = {"data": {"message": results}}
    if accepted == len(to):
        status = 202
    elif accepted == 0 and len(set(refusals)) == 1:
        code = str(refusals[0])
        status = REFUSAL_STATUS.get(code, 400)
        body["error"] = error_object(code)
    else:
        status = 207
    return json_response(body, status, headers)


async def get_message(request: web.Request) -> web.Response:
    """GET /rest/message/{apiMessageId}."""
    state, admitted = _admit(request, "clickatell.get", write=False)
    message = state.store.by_api_id.get(request.match_info["id"])
    if message is None:
        raise _error(404, "161", admitted.headers, "Resource does not exist: no such apiMessageId")
    return json_response({"data": status_json(message)}, 200, admitted.headers)


async def stop_message(request: web.Request) -> web.Response:
    """DELETE /rest/message/{apiMessageId}: only a message still queued can be stopped; it is refunded."""
    state, admitted = _admit(request, "clickatell.stop", write=True)
    message = state.store.by_api_id.get(request.match_info["id"])
    if message is None:
        raise _error(404, "161", admitted.headers, "Resource does not exist: no such apiMessageId")
    if message.status != "queued":
        detail = "Invalid or missing parameters: the message has already been delivered to an SMSC"
        raise _error(400, "101", admitted.headers, detail)
    message.status = "cancelled"
    message.updated_at = time.time()
    state.balance = round(state.balance + message.cost, 6)
    code, description = STATUS_CODES["cancelled"]
    data = {"messageStatus": code, "description": description, "apiMessageId": message.api_message_id}
    return json_response({"data": data}, 200, admitted.headers)


async def balance(request: web.Request) -> web.Response:
    """GET /rest/account/balance."""
    state, admitted = _admit(request, "clickatell.balance", write=False)
    return json_response({"data": {"balance": f"{state.balance:.3f}"}}, 200, admitted.headers)


async def coverage(request: web.Request) -> web.Response:
    """GET /rest/coverage/{msisdn}."""
    state, admitted = _admit(request, "clickatell.coverage", write=False)
    msisdn = request.match_info["msisdn"]
    if not MSISDN.match(msisdn):
        raise _error(400, "105", admitted.headers)
    e164 = "+" + msisdn
    s = state.settings
    routable = e164 not in s.blocked and e164 not in s.delisted and e164 not in s.unreachable
    data = {"routable": routable, "destination": msisdn, "minimumCharge": s.price_per_segment}
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
