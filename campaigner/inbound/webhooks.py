"""The webhook handlers: delivery receipts and inbound messages (STOP replies), for the daemon's app.

Authentication and parsing belong to the provider client (`parse_status_webhook`,
`parse_inbound_webhook`: HMAC-SHA256 `X-Cliqtel-Signature` over the raw body, constant-time); a
request they reject is answered 401 (signature) or 400 (body) and changes nothing.

Receipts move a job `submitted → delivered | undelivered` once (store.mark_delivery); a repeated or
out-of-order receipt (`sent` after `delivered`) changes nothing. A *final* receipt whose provider id
matches no submitted job may simply have arrived before the dispatcher wrote that job's result (they
are flushed in batches, and a lost reply is only settled by a later lookup), so it is parked in
`pending_receipts` and applied by `apply_pending_receipts`, which the daemon calls every second;
parked receipts that never find their job are dropped after a day. Every receipt is answered 200 once
authenticated, so the provider does not retry forever; a database failure is answered 503 (retry).

Inbound messages are classified by `campaigner.inbound.stopwords`: an opt-out adds the sender to the
suppression list (reason `stop_reply`, source `inbound`), so their pending jobs in every campaign
are skipped when claimed; START/UNSTOP lifts a suppression that a STOP reply made.

Verdicts (the `verdict` label of campaigner_webhook_events_total):
status: accepted, duplicate, parked, ignored (a non-final status: queued/sent never move a job),
rejected_signature, bad_json, bad_payload, too_large;
inbound: opt_out, opt_in, other, bad_number, and the same rejections.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from campaigner import metrics
from campaigner.inbound.stopwords import Reply, classify
from campaigner.providers.base import (
    DeliveryStatus,
    InboundEvent,
    Provider,
    StatusEvent,
    WebhookRejected,
    WebhookRequest,
)
from campaigner.store.store import Store

log = logging.getLogger(__name__)

STORE: web.AppKey[Store] = web.AppKey("campaigner_store", Store)
PROVIDER: web.AppKey[Provider] = web.AppKey("campaigner_provider", Provider)

# A parked receipt whose job never became submitted is dropped after this many seconds.
RECEIPT_MAX_AGE = 86_400.0

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_SEPARATORS = re.compile(r"[\s\-().]")


def e164_of(number: str) -> str | None:
    """`number` as E.164 ('+' and digits; '00' or no prefix accepted), or None if it is not one."""
    text = _SEPARATORS.sub("", number or "")
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.isdigit():
        text = "+" + text
    return text if _E164.match(text) else None


def masked(e164: str) -> str:
    """A phone number for log lines: country prefix and last two digits only."""
    return e164[:4] + "*" * max(0, len(e164) - 6) + e164[-2:] if len(e164) > 6 else "***"


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
    return await _handle(request, "status", provider.parse_status_webhook, handle_status)


async def _handle(
    request: web.Request,
    kind: str,
    parse: Callable[[WebhookRequest], Sequence[Any]],
    handle: Callable[[Store, Any], Awaitable[str]],
) -> web.Response:
    """Authenticate and parse with the provider, apply each event, answer with the verdicts."""
    body = await request.read()
    try:
        events = parse(WebhookRequest(body, request.headers))
    except WebhookRejected as exc:
        return _rejection(kind, exc, request)
    store = request.app[STORE]
    verdicts: Counter[str] = Counter()
    for event in events:
        verdicts[await handle(store, event)] += 1
    if not events:
        verdicts["ignored"] += 1  # another event type, signed: nothing for us
    return _answer(kind, verdicts)


async def handle_status(store: Store, event: StatusEvent) -> str:
    """Apply one receipt; returns its verdict."""
    pid = event.provider_id
    if event.status not in (DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED):
        # queued/sent never move a job, least of all backwards: no need to look the message up
        # (every message brings one or two of these, so a query each would double the webhook load).
        return "ignored"
    status = str(event.status)
    error_code = "undelivered" if event.status is DeliveryStatus.UNDELIVERED else None
    delivery = await store.mark_delivery(pid, status, error_code, event.error, event.occurred_at)
    if delivery is not None:
        log.debug(
            "job %s %s",
            delivery.job_id,
            status,
            extra={"campaign_id": delivery.campaign_id, "job_id": delivery.job_id, "provider_id": pid},
        )
        return "accepted"
    final_state, parked = await store.park_receipt(pid, status, event.error, event.occurred_at)
    if parked:
        log.debug(
            "%s receipt for message id %s that matches no submitted job: kept until its job is submitted",
            status,
            pid,
            extra={"provider_id": pid},
        )
        return "parked"
    log.debug("duplicate %s receipt for %s (job already %s)", status, pid, final_state or "waiting")
    return "duplicate"


async def inbound_webhook(request: web.Request) -> web.Response:
    """POST /webhooks/<provider>/inbound: messages from recipients (STOP replies)."""
    provider = request.app[PROVIDER]
    return await _handle(request, "inbound", provider.parse_inbound_webhook, handle_inbound)


async def handle_inbound(store: Store, event: InboundEvent) -> str:
    """Act on one inbound message; returns its verdict."""
    e164 = e164_of(event.from_number)
    if e164 is None:
        log.warning("inbound message %s from a number that is not E.164; ignored", event.provider_id)
        return "bad_number"
    reply = classify(event.body)
    if reply is Reply.OPT_OUT:
        # Its pending jobs are skipped when claimed; dispatchers holding some see the new entry.
        added = await store.add_suppressions([e164], "stop_reply", "inbound")
        log.info(
            "opt-out reply from %s: %s",
            masked(e164),
            "suppressed" if added else "already suppressed",
            extra={"provider_id": event.provider_id},
        )
        return "opt_out"
    if reply is Reply.OPT_IN:
        lifted = await store.remove_stop_reply_suppression(e164)
        log.info(
            "opt-in reply from %s: %s",
            masked(e164),
            "suppression lifted" if lifted else "no STOP-reply suppression to lift",
            extra={"provider_id": event.provider_id},
        )
        return "opt_in"
    # The text is the recipient's: never at INFO.
    log.debug("inbound message %s from %s: %r", event.provider_id, masked(e164), event.body)
    return "other"


async def apply_pending_receipts(store: Store) -> int:
    """Apply parked receipts whose job is now submitted and drop those a day old; returns the number
    of receipts applied.

    The daemon calls it about every second; several daemons may call it at once.
    """
    applied, expired = await store.apply_pending_receipts(RECEIPT_MAX_AGE)
    if applied:
        metrics.PARKED_RECEIPTS.labels("applied").inc(applied)
        log.info("applied %d receipts that arrived before their job's result", applied)
    if expired:
        metrics.PARKED_RECEIPTS.labels("expired").inc(expired)
        log.warning("dropped %d receipts whose message id matched no job for a day", expired)
    return applied
