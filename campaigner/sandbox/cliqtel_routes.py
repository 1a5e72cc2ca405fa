"""Cliqtel's SMS API (documents 000-002), mounted at /api/v1: /sms/... and the portal's /portal/sms/...

Routes (relative to /api/v1):
  POST /sms/messages          send (201 {"data": message})
  GET  /sms/messages          list with filters; `meta` pagination, or Laravel's with pagination="laravel"
  GET  /sms/messages/{id}     one message
  GET  /sms/numbers           SMS-enabled numbers
  POST /portal/sms/send       send, portal shape (201 {"success": true, "message": message})
  GET  /portal/sms            list, always Laravel pagination ("API Reference": "List endpoints ... Laravel")
  GET  /portal/sms/numbers    SMS-enabled numbers

Errors use {"error": {"code", "message"}} (error_style="nested", Cliqtel's "SMS API Reference") or
{"error": code, "message": ...} (error_style="flat", Cliqtel's "API Reference"); validation errors
add "errors".
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from campaigner.sandbox.callbacks import PROGRESSION
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
from campaigner.sandbox.settings import SandboxNumber
from campaigner.sandbox.state import Message, SandboxState, iso

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
STATUSES = frozenset({"queued", "sending", "sent", "delivered", "failed"})

UNAUTHENTICATED = ApiError(401, "unauthenticated", "Missing or invalid API key")
FORBIDDEN = ApiError(403, "insufficient_scope", "This API key does not have the sms:write scope")
RATE_LIMITED = ApiError(429, "rate_limited", "Too many requests")
FAULTS = {
    # Sandbox extension: a server error before anything is stored. The reference's only 500 is
    # `send_failed` (a carrier refusal), which is not a fault to retry.
    Fault.ERROR_500: ApiError(500, "server_error", "Server Error"),
    Fault.ERROR_503: ApiError(503, "service_unavailable", "Service temporarily unavailable"),
}


def _render(error: ApiError, style: str) -> web.Response:
    body: dict[str, Any]
    if style == "flat":
        body = {"error": error.code, "message": error.message}
        if error.errors:
            body["errors"] = error.errors
    else:
        inner: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.errors:
            inner["errors"] = error.errors
        body = {"error": inner}
    return json_response(body, error.status, error.headers)


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    state = request.config_dict[STATE]
    try:
        return await handler(request)
    except ApiError as error:
        if error.status in (400, 404, 422):  # the others are counted where they are raised
            state.reject(f"{error.status}_{error.code}")
        return _render(error, state.settings.error_style)
    except DropConnection as dropped:
        drop(request, reset=dropped.reset)
        return web.Response(status=500)  # never written: the transport is gone
    except web.HTTPNotFound:
        return _render(ApiError(404, "not_found", "Not found"), state.settings.error_style)
    except web.HTTPMethodNotAllowed:
        return _render(ApiError(405, "method_not_allowed", "Method not allowed"), state.settings.error_style)


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
    return state, admitted


def message_json(message: Message, currency: str) -> dict[str, Any]:
    """A message as /api/v1/sms shows it (Cliqtel's "SMS API Reference")."""
    return {
        "id": message.id,
        "from": message.from_,
        "to": message.to,
        "body": message.body,
        "direction": message.direction,
        "status": message.status,
        "segments": message.segments,
        "cost": message.cost,
        "currency": currency,
        "carrier": "sandbox",
        "created_at": iso(message.created_at),
        "updated_at": iso(message.updated_at),
    }


def portal_json(message: Message) -> dict[str, Any]:
    """A message as the portal endpoints show it (the guide "How to Send & Receive SMS with Cliqtel")."""
    return {
        "id": message.id,
        "direction": message.direction,
        "from": message.from_,
        "to": message.to,
        "body": message.body,
        "status": message.status,
        "segments": message.segments,
        "carrier": "sandbox",
        "created_at": iso(message.created_at, micro=True),
    }


def _validation(errors: dict[str, list[str]], headers: dict[str, str]) -> ApiError:
    first = next(iter(errors.values()))[0]
    return ApiError(422, "validation_error", first, headers=headers, errors=errors)


def _parse_send(
    raw: bytes, state: SandboxState, admitted: Admitted
) -> tuple[SandboxNumber, str, str, str | None]:
    """Validate a send body; returns (number, to, body, status_callback_url) or raises ApiError."""
    headers = admitted.headers
    try:
        payload = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict):
        raise _validation({"body": ["The request body must be a JSON object."]}, headers)
    errors: dict[str, list[str]] = {}
    sender = payload.get("from")
    sender_id = payload.get("from_number_id")
    if sender is not None and sender_id is not None:
        message = "Provide either from or from_number_id, not both."
        errors["from"] = [message]
        errors["from_number_id"] = [message]
    elif sender is None and sender_id is None:
        errors["from"] = ["The from field is required when from_number_id is not present."]
    elif sender is not None and not isinstance(sender, str):
        errors["from"] = ["The from field must be a string."]
    elif sender_id is not None and (isinstance(sender_id, bool) or not isinstance(sender_id, int)):
        errors["from_number_id"] = ["The from number id field must be an integer."]
    to = payload.get("to")
    if to is None:
        errors["to"] = ["The to field is required."]
    elif not isinstance(to, str) or not E164.match(to):
        errors["to"] = ["The to field must be a valid E.164 phone number."]
    body = payload.get("body")
    if body is None or body == "":
        errors["body"] = ["The body field is required."]
    elif not isinstance(body, str):
        errors["body"] = ["The body field must be a string."]
    elif len(body) > state.settings.max_body_chars:
        errors["body"] = [
            f"The body field must not be greater than {state.settings.max_body_chars} characters."
        ]
    callback = payload.get("status_callback_url")
    if callback is not None:
        parts = urlsplit(callback) if isinstance(callback, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            errors["status_callback_url"] = ["The status callback url field must be a valid URL."]
    if errors:
        raise _validation(errors, headers)
    number = state.settings.sms_number(number=sender, number_id=sender_id)
    if number is None:
        raise ApiError(
            422, "number_not_found", "From number not found, inactive, or SMS not enabled", headers
        )
    return number, str(to), str(body), callback


async def _send(request: web.Request, route: str, api: str) -> tuple[Message, Admitted, SandboxState]:
    raw = await request.read()
    state, admitted = _admit(request, route, write=True)
    number, to, body, callback = _parse_send(raw, state, admitted)
    segments = state.segments_of(body)
    if not state.can_afford(segments):
        state.reject("402")
        raise ApiError(
            402, "insufficient_balance", "Wallet balance too low to send this message", admitted.headers
        )
    decision = state.message_window.acquire(admitted.now, 1)
    if not decision.allowed:
        state.request_window(admitted.key).release(admitted.now)
        state.reject("429_messages")
        retry = _retry_after(decision.retry_after, state)
        raise ApiError(
            429, "rate_limited", "Too many messages per second", {**admitted.headers, "Retry-After": retry}
        )
    cost = state.debit(segments)
    message = state.store.add(
        api=api,
        direction="outbound",
        from_=number.number,
        to=to,
        body=body,
        segments=segments,
        cost=cost,
        number_id=number.id,
        status_callback_url=callback,
    )
    state.accepted(message)
    request.config_dict[PROGRESSION].schedule(message)
    await after_faults(state, route)
    return message, admitted, state


def _retry_after(seconds: float, state: SandboxState) -> str:
    return format_retry_after(seconds, state.settings.retry_after_fractional)


async def send_message(request: web.Request) -> web.Response:
    """POST /sms/messages."""
    message, admitted, state = await _send(request, "cliqtel.send", "cliqtel")
    return json_response({"data": message_json(message, state.settings.currency)}, 201, admitted.headers)


async def portal_send(request: web.Request) -> web.Response:
    """POST /portal/sms/send."""
    message, admitted, _ = await _send(request, "portal.send", "portal")
    return json_response({"success": True, "message": portal_json(message)}, 201, admitted.headers)


def _int_param(query: Any, name: str, default: int, errors: dict[str, list[str]]) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        errors[name] = [f"The {name} field must be an integer."]
        return default
    if value < 1:
        errors[name] = [f"The {name} field must be at least 1."]
        return default
    return value


def _filtered(
    request: web.Request, state: SandboxState, admitted: Admitted
) -> tuple[list[Message], int, int]:
    """The messages matching the list filters, newest first, and the page and per_page asked for."""
    query = request.query
    errors: dict[str, list[str]] = {}
    direction = query.get("direction") or None
    if direction is not None and direction not in ("inbound", "outbound"):
        errors["direction"] = ["The selected direction is invalid."]
    status = query.get("status") or None
    if status is not None and status not in STATUSES:
        errors["status"] = ["The selected status is invalid."]
    number_id: int | None = None
    if query.get("number_id"):
        number_id = _int_param(query, "number_id", 0, errors)
    since: float | None = None
    if query.get("since"):
        try:
            since = parse_since(query["since"])
        except ValueError:
            errors["since"] = ["The since field must be a valid date."]
    page = _int_param(query, "page", 1, errors)
    per_page = _int_param(query, "per_page", 25, errors)
    if per_page > state.settings.max_per_page:
        errors["per_page"] = [f"The per page field must not be greater than {state.settings.max_per_page}."]
    if errors:
        raise _validation(errors, admitted.headers)
    to = query.get("to") or None
    sender = query.get("from") or None
    found = [
        m
        for m in state.store.candidates(to, since)
        if (to is None or m.to == to)
        and (sender is None or m.from_ == sender)
        and (direction is None or m.direction == direction)
        and (status is None or m.status == status)
        and (number_id is None or m.number_id == number_id)
        and (since is None or m.created_at >= since)
    ]
    found.reverse()
    return found, page, per_page


async def list_messages(request: web.Request) -> web.Response:
    """GET /sms/messages."""
    state, admitted = _admit(request, "cliqtel.list", write=False)
    found, page, per_page = _filtered(request, state, admitted)
    items = [message_json(m, state.settings.currency) for m in found[(page - 1) * per_page : page * per_page]]
    if state.settings.pagination == "laravel":
        body = _laravel(request, items, len(found), page, per_page)
    else:
        total_pages = max(1, -(-len(found) // per_page))
        meta = {"total": len(found), "page": page, "per_page": per_page, "total_pages": total_pages}
        body = {"data": items, "meta": meta}
    await after_faults(state, "cliqtel.list")
    return json_response(body, 200, admitted.headers)


async def portal_list(request: web.Request) -> web.Response:
    """GET /portal/sms (Laravel pagination)."""
    state, admitted = _admit(request, "portal.list", write=False)
    found, page, per_page = _filtered(request, state, admitted)
    items = [portal_json(m) for m in found[(page - 1) * per_page : page * per_page]]
    return json_response(_laravel(request, items, len(found), page, per_page), 200, admitted.headers)


def _laravel(request: web.Request, items: list[Any], total: int, page: int, per_page: int) -> dict[str, Any]:
    last = max(1, -(-total // per_page))
    url = request.url

    def page_url(n: int) -> str:
        return str(url.update_query(page=n))

    start = (page - 1) * per_page
    return {
        "current_page": page,
        "data": items,
        "first_page_url": page_url(1),
        "from": start + 1 if items else None,
        "last_page": last,
        "last_page_url": page_url(last),
        "next_page_url": page_url(page + 1) if page < last else None,
        "path": str(url.with_query(None)),
        "per_page": per_page,
        "prev_page_url": page_url(page - 1) if page > 1 else None,
        "to": start + len(items) if items else None,
        "total": total,
    }


async def get_message(request: web.Request) -> web.Response:
    """GET /sms/messages/{id}."""
    state, admitted = _admit(request, "cliqtel.get", write=False)
    try:
        message = state.store.get(int(request.match_info["id"]))
    except ValueError:
        message = None
    if message is None:
        raise ApiError(404, "not_found", "Message not found", admitted.headers)
    return json_response({"data": message_json(message, state.settings.currency)}, 200, admitted.headers)


async def list_numbers(request: web.Request) -> web.Response:
    """GET /sms/numbers and /portal/sms/numbers: the SMS-enabled numbers only."""
    route = "portal.numbers" if "/portal/" in request.path else "cliqtel.numbers"
    state, admitted = _admit(request, route, write=False)
    numbers = [n.as_cliqtel() for n in state.settings.numbers if n.sms_enabled]
    return json_response({"data": numbers}, 200, admitted.headers)


async def balance(request: web.Request) -> web.Response:
    """GET /billing/balance: the wallet. A sandbox extension, served only with `serve_balance`:
    the documents name balance data (billing:read) but not its path."""
    state, admitted = _admit(request, "cliqtel.balance", write=False)
    if not state.settings.serve_balance:
        raise ApiError(404, "not_found", "Not found", admitted.headers)
    if admitted.key == state.settings.send_key:
        raise ApiError(403, "insufficient_scope", "This API key does not have the billing:read scope")
    body = {"data": {"balance": round(state.balance, 6), "currency": state.settings.currency}}
    return json_response(body, 200, admitted.headers)


def cliqtel_app(state: SandboxState) -> web.Application:
    """The sub-application mounted at /api/v1."""
    del state  # reached through request.config_dict (the root app holds it)
    app = web.Application(middlewares=[_errors])
    app.router.add_post("/sms/messages", send_message)
    app.router.add_get("/sms/messages", list_messages)
    app.router.add_get("/sms/messages/{id}", get_message)
    app.router.add_get("/sms/numbers", list_numbers)
    app.router.add_post("/portal/sms/send", portal_send)
    app.router.add_get("/portal/sms", portal_list)
    app.router.add_get("/portal/sms/numbers", list_numbers)
    app.router.add_get("/billing/balance", balance)
    return app
