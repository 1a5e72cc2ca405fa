"""The sandbox's own routes under /_sandbox/: stats, settings, reset and inbound injection.

No auth: this is a local test server. Routes:
  GET  /_sandbox/stats[?per_recipient=1]   figures (see SandboxState.snapshot)
  GET  /_sandbox/config                    settings
  POST /_sandbox/config                    change settings, e.g. {"requests_per_minute": 600}
  POST /_sandbox/reset                     empty store, refill wallet, zero stats and windows
  POST /_sandbox/inbound                   {"from", "to"?, "body", "url"?, "api"?}: store an inbound SMS
                                           and POST it (signed) to `url` or settings.inbound_url:
                                           Cliqtel's `sms.received`, or Clickatell's MO callback when
                                           `api` is "clickatell" or the URL is a /clickatell/ route
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from campaigner.sandbox.callbacks import PROGRESSION
from campaigner.sandbox.cliqtel_routes import E164, message_json
from campaigner.sandbox.common import STATE, json_response


def _bad(message: str) -> web.Response:
    return json_response({"error": {"code": "validation_error", "message": message}}, 400)


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    try:
        payload = json.loads(await request.read() or b"{}")
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


async def stats(request: web.Request) -> web.Response:
    """GET /_sandbox/stats."""
    state = request.config_dict[STATE]
    detail = request.query.get("per_recipient", "") not in ("", "0", "false")
    return json_response(state.snapshot(per_recipient=detail))


async def get_config(request: web.Request) -> web.Response:
    """GET /_sandbox/config."""
    return json_response(request.config_dict[STATE].settings.public())


async def set_config(request: web.Request) -> web.Response:
    """POST /_sandbox/config: change settings at runtime."""
    state = request.config_dict[STATE]
    payload = await _json_object(request)
    if payload is None:
        return _bad("body must be a JSON object of settings")
    try:
        changed = state.configure(payload)
    except KeyError as exc:
        return _bad(f"unknown setting {exc.args[0]!r}")
    except (TypeError, ValueError) as exc:
        return _bad(f"bad value: {exc}")
    return json_response({"changed": changed, "settings": state.settings.public()})


async def reset(request: web.Request) -> web.Response:
    """POST /_sandbox/reset."""
    state = request.config_dict[STATE]
    state.reset()
    request.config_dict[PROGRESSION].clear()
    return json_response({"reset": True})


async def inbound(request: web.Request) -> web.Response:
    """POST /_sandbox/inbound: a recipient texts one of our numbers (STOP tests)."""
    state = request.config_dict[STATE]
    payload = await _json_object(request)
    if payload is None:
        return _bad("body must be a JSON object with from and body")
    sender = payload.get("from")
    body = payload.get("body")
    if not isinstance(sender, str) or not E164.match(sender):
        return _bad("from must be an E.164 number")
    if not isinstance(body, str):
        return _bad("body must be a string")
    default = next((n for n in state.settings.numbers if n.sms_enabled), None)
    to = payload.get("to") or (default.number if default else "")
    number = next((n for n in state.settings.numbers if n.number == to), None)
    if number is None:
        return _bad(f"to {to!r} is not a number of the sandbox account")
    message = state.store.add(
        api="inbound",
        direction="inbound",
        from_=sender,
        to=to,
        body=body,
        segments=state.segments_of(body),
        cost=0.0,
        number_id=number.id,
        status="received",
    )
    url = payload.get("url") or state.settings.inbound_url
    delivered: int | None = None
    if url:
        # A Clickatell webhook route gets Clickatell's shape, unless "api" says otherwise.
        api = payload.get("api") or ("clickatell" if "/clickatell/" in url else "cliqtel")
        delivered = await request.config_dict[PROGRESSION].deliver_inbound(message, url, str(api))
    return json_response(
        {"data": message_json(message, state.settings.currency), "url": url or None, "delivered": delivered}
    )


def control_app() -> web.Application:
    """The sub-application mounted at /_sandbox."""
    app = web.Application()
    app.router.add_get("/stats", stats)
    app.router.add_get("/config", get_config)
    app.router.add_post("/config", set_config)
    app.router.add_post("/reset", reset)
    app.router.add_post("/inbound", inbound)
    return app
