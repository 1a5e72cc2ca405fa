"""The webhook routes: HTTP in, the `inbound/` handlers out.

Authentication and parsing belong to the provider client (`parse_status_webhook`,
`parse_inbound_webhook`: HMAC-SHA256 `X-Cliqtel-Signature` over the raw body, constant-time, before
anything is parsed); a request they reject is answered 401 (signature) or 400 (body) and changes
nothing. Before them, this module reads the body within `daemon.body_timeout` (408), refuses a
`Content-Encoding` (415: bodies are authenticated as sent, never inflated) and treats a client that
goes away mid-body as a 400 nobody hears. Every event is answered 200 once authenticated, so the
provider does not retry forever; a record the client could not use (`IgnoredEvent`) is answered 200
"ignored" and counted by its reason; a database failure is answered 503 (retry).

Rejections are logged through a FloodLog: one line per verdict per interval, with a count.

Rejection verdicts (campaigner_webhook_events_total): rejected_signature, bad_json, bad_payload,
too_large, slow_body, bad_encoding, incomplete_body. Ignored records are verdict `ignored`, and
campaigner_webhook_ignored_total counts their reasons (bad_id, bad_time, bad_ref, bad_text,
unknown_status).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any

from aiohttp import web

from campaigner import metrics
from campaigner.app.floods import FloodLog
from campaigner.inbound.policy import InboundPolicy
from campaigner.inbound.receipt_batcher import ReceiptBatcher
from campaigner.inbound.receipts import handle_status
from campaigner.inbound.replies import handle_inbound
from campaigner.model.provider import IgnoredEvent, WebhookRejected, WebhookRequest
from campaigner.providers.base import Provider
from campaigner.store.store import Store

log = logging.getLogger(__name__)

STORE: web.AppKey[Store] = web.AppKey("campaigner_store", Store)
BODY_TIMEOUT: web.AppKey[float] = web.AppKey("campaigner_body_timeout", float)
FLOODS: web.AppKey[FloodLog] = web.AppKey("campaigner_floods", FloodLog)

_VERDICTS = {401: "rejected_signature", 408: "slow_body", 415: "bad_encoding"}


def _rejection(kind: str, exc: WebhookRejected, request: web.Request, verdict: str = "") -> web.Response:
    if not verdict:
        verdict = _VERDICTS.get(exc.status, "bad_json" if "not valid JSON" in exc.reason else "bad_payload")
    metrics.webhook_event(kind, verdict)
    request.app[FLOODS].event(
        f"{kind}:{verdict}",
        logging.WARNING,
        "%s webhook from %s rejected (%d): %s",
        kind,
        request.remote,
        exc.status,
        exc.reason,
    )
    resp = web.json_response({"error": exc.reason}, status=exc.status)
    if exc.status in (408, 415) or verdict == "incomplete_body":
        resp.force_close()  # the body was not read: the connection carries nothing more we want
    return resp


def _answer(kind: str, verdicts: Mapping[str, int], ignored: Mapping[str, int]) -> web.Response:
    for verdict, n in verdicts.items():
        metrics.webhook_event(kind, verdict, n)
    for reason, n in ignored.items():
        metrics.webhook_ignored(kind, reason, n)
    # `settled` counts jobs an event also settled (receipts.py), not events of their own.
    events = sum(n for verdict, n in verdicts.items() if verdict != "settled")
    answer: dict[str, Any] = {"events": events, "verdicts": dict(verdicts)}
    if ignored:
        answer["ignored"] = dict(ignored)
    return web.json_response(answer)


async def _body(request: web.Request) -> bytes:
    """The raw body as sent, within the body timeout; WebhookRejected when it cannot be had."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise WebhookRejected(
            f"Content-Encoding {encoding[:20]!r} is not accepted: send the body uncompressed", status=415
        )
    timeout = request.app[BODY_TIMEOUT]
    try:
        async with asyncio.timeout(timeout):
            return await request.read()
    except TimeoutError:
        raise WebhookRejected(f"the body did not arrive within {timeout:g} s", status=408) from None
    except (ConnectionError, web.RequestPayloadError):
        raise WebhookRejected("the client went away before the body was complete", status=400) from None


async def _handle(
    request: web.Request,
    kind: str,
    parse: Callable[[WebhookRequest], Sequence[Any]],
    handle: Callable[[Store, Sequence[Any]], Awaitable[Mapping[str, int]]],
) -> web.Response:
    """Authenticate and parse with the provider, apply each event, answer with the verdicts."""
    try:
        body = await _body(request)
    except WebhookRejected as exc:
        return _rejection(kind, exc, request, "incomplete_body" if exc.status == 400 else "")
    try:
        events = parse(
            WebhookRequest(body, request.headers, request.method, request.query, request.query_string)
        )
    except WebhookRejected as exc:
        return _rejection(kind, exc, request)
    store = request.app[STORE]
    verdicts: Counter[str] = Counter()
    ignored: Counter[str] = Counter()
    usable: list[Any] = []
    for event in events:
        if isinstance(event, IgnoredEvent):
            verdicts["ignored"] += 1
            ignored[event.reason] += 1
            request.app[FLOODS].event(
                f"{kind}:ignored:{event.reason}",
                logging.WARNING,
                "%s webhook: a record ignored (%s): %s",
                kind,
                event.reason,
                event.detail,
            )
            continue
        usable.append(event)
    # The whole request at once: its receipts are one statement, its replies one transaction.
    verdicts.update(await handle(store, usable))
    if not events:
        verdicts["ignored"] += 1  # another event type, signed: nothing for us
    return _answer(kind, verdicts, ignored)


WebhookHandler = Callable[[web.Request], Awaitable[web.Response]]


def webhook_handlers(
    store: Store, provider: Provider, policy: InboundPolicy, receipts: ReceiptBatcher | None = None
) -> dict[str, WebhookHandler]:
    """The handlers of one provider account's routes, by kind: its client authenticates and parses
    the callbacks, and its policy (`policy.account`) scopes every event to that account's jobs.
    Receipts of requests that arrive together are applied in one statement (`receipts`: the app's
    ReceiptBatcher, shared by all its accounts; one of their own otherwise)."""
    receipts = receipts or ReceiptBatcher(store)

    async def status_webhook(request: web.Request) -> web.Response:
        """POST (or GET, where the provider's callbacks are) /webhooks/<account>/status: receipts."""
        handle = partial(handle_status, policy=policy, receipts=receipts)
        return await _handle(request, "status", provider.parse_status_webhook, handle)

    async def inbound_webhook(request: web.Request) -> web.Response:
        """POST /webhooks/<account>/inbound: messages from recipients (STOP replies)."""
        handle = partial(handle_inbound, policy=policy)
        return await _handle(request, "inbound", provider.parse_inbound_webhook, handle)

    return {"status": status_webhook, "inbound": inbound_webhook}
