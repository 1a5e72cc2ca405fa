"""The webhook routes: HTTP in, the `inbound/` handlers out.

Authentication and parsing belong to the provider client (`parse_status_webhook`,
`parse_inbound_webhook`: HMAC-SHA256 `X-Cliqtel-Signature` over the raw body, constant-time); a
request they reject is answered 401 (signature) or 400 (body) and changes nothing. Every event is
answered 200 once authenticated, so the provider does not retry forever; a database failure is
answered 503 (retry).

Rejection verdicts (campaigner_webhook_events_total): rejected_signature, bad_json, bad_payload,
too_large.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any

from aiohttp import web

from campaigner import metrics
from campaigner.inbound.policy import InboundPolicy
from campaigner.inbound.receipts import handle_status
from campaigner.inbound.replies import handle_inbound
from campaigner.model.provider import WebhookRejected, WebhookRequest
from campaigner.providers.base import Provider
from campaigner.store.store import Store

log = logging.getLogger(__name__)

STORE: web.AppKey[Store] = web.AppKey("campaigner_store", Store)
PROVIDER: web.AppKey[Provider] = web.AppKey("campaigner_provider", Provider)
INBOUND: web.AppKey[InboundPolicy] = web.AppKey("campaigner_inbound", InboundPolicy)


def _rejection(kind: str, exc: WebhookRejected, request: web.Request) -> web.Response:
    if exc.status == 401:
        verdict = "rejected_signature"
    elif "not valid JSON" in exc.reason:
        verdict = "bad_json"
    else:
        verdict = "bad_payload"
    metrics.webhook_event(kind, verdict)
    log.warning(
        "%s webhook from %s rejected (%d): %s",
        kind,
        request.remote,
        exc.status,
        exc.reason,
        extra={"verdict": verdict},
    )
    return web.json_response({"error": exc.reason}, status=exc.status)


def _answer(kind: str, verdicts: Mapping[str, int]) -> web.Response:
    for verdict, n in verdicts.items():
        metrics.webhook_event(kind, verdict, n)
    return web.json_response({"events": sum(verdicts.values()), "verdicts": dict(verdicts)})


async def status_webhook(request: web.Request) -> web.Response:
    """POST /webhooks/<provider>/status: delivery receipts."""
    provider = request.app[PROVIDER]
    handle = partial(handle_status, policy=request.app[INBOUND])
    return await _handle(request, "status", provider.parse_status_webhook, handle)


async def _handle(
    request: web.Request,
    kind: str,
    parse: Callable[[WebhookRequest], Sequence[Any]],
    handle: Callable[[Store, Sequence[Any]], Awaitable[Mapping[str, int]]],
) -> web.Response:
    """Authenticate and parse with the provider, apply each event, answer with the verdicts."""
    body = await request.read()
    try:
        events = parse(WebhookRequest(body, request.headers))
    except WebhookRejected as exc:
        return _rejection(kind, exc, request)
    store = request.app[STORE]
    # The whole request at once: its receipts are one statement, its replies one transaction.
    verdicts: Counter[str] = Counter()
    verdicts.update(await handle(store, events))
    if not events:
        verdicts["ignored"] += 1  # another event type, signed: nothing for us
    return _answer(kind, verdicts)


async def inbound_webhook(request: web.Request) -> web.Response:
    """POST /webhooks/<provider>/inbound: messages from recipients (STOP replies)."""
    provider = request.app[PROVIDER]
    handle = partial(handle_inbound, policy=request.app[INBOUND])
    return await _handle(request, "inbound", provider.parse_inbound_webhook, handle)
