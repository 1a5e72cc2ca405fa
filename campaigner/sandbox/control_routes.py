"""The sandbox's own routes under /_sandbox/: stats, settings, reset and inbound injection.

No auth: this is a local test server. Routes:
  GET  /_sandbox/stats[?per_recipient=1]   figures (see SandboxState.snapshot)
  GET  /_sandbox/config                    settings
  POST /_sandbox/config                    change settings, e.g. {"requests_per_minute": 600}
  POST /_sandbox/reset                     empty store, refill wallet, zero stats and windows
  POST /_sandbox/inbound                   {"from", "to"?, "body", "url"?, "api"?}: store an inbound SMS
                                           and send it on, as Cliqtel's signed `sms.received` or as
                                           Clickatell's MO callback (see `inbound`)
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from campaigner.sandbox.callbacks import PROGRESSION
from campaigner.sandbox.cliqtel_routes import E164, message_json
from campaigner.sandbox.common import STATE, json_response
from campaigner.sandbox.state import Message, SandboxState


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
    url, api, reason = _route_inbound(state, payload, message)
    delivered: int | None = None
    if url:
        delivered = await request.config_dict[PROGRESSION].deliver_inbound(message, url, api)
    return json_response(
        {
            "data": message_json(message, state.settings.currency),
            "api": api,
            "url": url or None,
            "delivered": delivered,
            "reason": reason,
        }
    )


def _route_inbound(
    state: SandboxState, payload: dict[str, Any], message: Message
) -> tuple[str, str, str | None]:
    """(url, api, why it is not sent) of an injected inbound message.

    The API is `api` if given, else Clickatell's for a URL of a /clickatell/ route, else that of the
    last message sent to the replier. An explicit `url` is the test naming its receiver: the reply is
    sent there. Otherwise a Cliqtel reply goes to `inbound_url`, and a Clickatell reply to
    `clickatell_mo_url` only when the message it answers (the last one sent to the replier from
    that number) was sent with mo=1: without it Clickatell routes the message over carriers that
    cannot carry a reply back (the document's "Mobile Originated" feature).
    """
    url = str(payload.get("url") or "")
    api = str(payload.get("api") or "")
    if not api and url:
        api = "clickatell" if "/clickatell/" in url else "cliqtel"
    elif not api:
        last = _last_sent(state, message.from_)
        api = "clickatell" if last is not None and last.api == "clickatell" else "cliqtel"
    if url:
        return url, api, None
    if api != "clickatell":
        return state.settings.inbound_url, api, None if state.settings.inbound_url else "no inbound_url"
    answered = _last_sent(state, message.from_, api="clickatell", from_=message.to)
    if answered is None or not answered.mo:
        return "", api, "not a reply to a message sent with mo=1"
    if not state.settings.clickatell_mo_url:
        return "", api, "no clickatell_mo_url"
    return state.settings.clickatell_mo_url, api, None


def _last_sent(
    state: SandboxState, to: str, api: str | None = None, from_: str | None = None
) -> Message | None:
    """The newest outbound message to `to` (of `api`, from `from_`), or None."""
    for candidate in reversed(state.store.by_to.get(to, [])):
        if candidate.direction != "outbound":
            continue
        if (api is None or candidate.api == api) and (from_ is None or candidate.from_ == from_):
            return candidate
    return None


def control_app() -> web.Application:
    """The sub-application mounted at /_sandbox."""
    app = web.Application()
    app.router.add_get("/stats", stats)
    app.router.add_get("/config", get_config)
    app.router.add_post("/config", set_config)
    app.router.add_post("/reset", reset)
    app.router.add_post("/inbound", inbound)
    return app
