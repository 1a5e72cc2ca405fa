"""ClickSend v3 dedicated numbers (ClickSend's v3 "Numbers" API), mounted at /clicksend.

  GET /v3/numbers?page=&limit=&q=type:SMS,country:NL&excluding_number_type=tollfree

Basic auth (username:api_key from the settings). Every answer is ClickSend's envelope:
{"http_code", "response_code", "response_msg", "data"}, the list paged Laravel-style inside `data`
(total, per_page, current_page, last_page, next_page_url, prev_page_url, from, to, data).
Each number: dedicated_number, country, _country_name, number_type (longcode / tollfree / ...) and
type ("SMS" for SMS-capable numbers, "VOICE" otherwise — the value `q=type:SMS` filters on).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from aiohttp import web

from campaigner.sandbox.common import STATE, json_response
from campaigner.sandbox.faults import DropConnection, before_processing, drop
from campaigner.sandbox.settings import SandboxNumber

COUNTRY_NAMES = {"NL": "Netherlands", "GB": "United Kingdom", "US": "United States", "AU": "Australia"}
NUMBER_TYPES = {"mobile": "longcode", "local": "longcode", "toll_free": "tollfree"}


def _envelope(http_code: int, response_code: str, message: str, data: Any) -> web.Response:
    body = {"http_code": http_code, "response_code": response_code, "response_msg": message, "data": data}
    return json_response(body, http_code)


def _authorised(request: web.Request) -> bool:
    s = request.config_dict[STATE].settings
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, key = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(user, s.clicksend_username) and hmac.compare_digest(key, s.clicksend_key)


def number_json(number: SandboxNumber) -> dict[str, Any]:
    """A number as ClickSend lists it."""
    return {
        "dedicated_number": number.number,
        "country": number.country_code,
        "_country_name": COUNTRY_NAMES.get(number.country_code, number.country_code),
        "number_type": NUMBER_TYPES.get(number.number_type, number.number_type),
        "type": "SMS" if number.sms_enabled else "VOICE",
    }


def _filters(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in text.split(","):
        key, _, value = pair.partition(":")
        if key.strip() and value.strip():
            out[key.strip().lower()] = value.strip().upper()
    return out


async def list_numbers(request: web.Request) -> web.Response:
    """GET /v3/numbers."""
    state = request.config_dict[STATE]
    state.stats.requests += 1
    if not _authorised(request):
        state.reject("401")
        return _envelope(401, "UNAUTHORIZED", "Authentication failed: check your username and API key.", None)
    fault = before_processing(state, "clicksend.numbers")
    if fault is not None:
        state.stats.faults[fault.value] += 1
        state.reject(f"fault_{fault.value}")
        if fault.value == "reset":
            raise DropConnection(reset=True)
        status = int(fault.value)
        return _envelope(status, "INTERNAL_ERROR", "Something went wrong, please try again.", None)
    try:
        page = max(1, int(request.query.get("page") or 1))
        limit = max(1, min(100, int(request.query.get("limit") or 15)))
    except ValueError:
        return _envelope(400, "BAD_REQUEST", "page and limit must be integers.", None)
    wanted = _filters(request.query.get("q", "")) | _filters(request.query.get("q2", ""))
    excluded = {t.strip().lower() for t in request.query.get("excluding_number_type", "").split(",") if t}
    items = [number_json(n) for n in state.settings.numbers]
    items = [
        item
        for item in items
        if ("type" not in wanted or item["type"] == wanted["type"])
        and ("country" not in wanted or item["country"] == wanted["country"])
        and ("number_type" not in wanted or item["number_type"].upper() == wanted["number_type"])
        and item["number_type"].lower() not in excluded
    ]
    total = len(items)
    last = max(1, -(-total // limit))
    chunk = items[(page - 1) * limit : page * limit]
    base = request.url

    def page_url(n: int) -> str:
        return str(base.update_query(page=n))

    data = {
        "total": total,
        "per_page": limit,
        "current_page": page,
        "last_page": last,
        "next_page_url": page_url(page + 1) if page < last else None,
        "prev_page_url": page_url(page - 1) if page > 1 else None,
        "from": (page - 1) * limit + 1 if chunk else None,
        "to": (page - 1) * limit + len(chunk) if chunk else None,
        "data": chunk,
    }
    return _envelope(200, "SUCCESS", "Here are you dedicated numbers.", data)


@web.middleware
async def _drops(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except DropConnection as dropped:
        drop(request, reset=dropped.reset)
        return web.Response(status=500)  # never written: the transport is gone
    except web.HTTPNotFound:
        return _envelope(404, "NOT_FOUND", "Resource not found.", None)


def clicksend_app(state: Any) -> web.Application:
    """The sub-application mounted at /clicksend."""
    del state  # reached through request.config_dict
    app = web.Application(middlewares=[_drops])
    app.router.add_get("/v3/numbers", list_numbers)
    return app
