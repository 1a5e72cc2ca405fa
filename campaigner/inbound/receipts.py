"""Delivery receipts: a job moves `submitted → delivered | undelivered`, once.

A repeated or out-of-order receipt (`sent` after `delivered`) changes nothing. A *final* receipt
whose provider id matches no submitted job may simply have arrived before the dispatcher wrote that
job's result (results are flushed in batches, and a lost reply is only settled by a later lookup),
so it is parked in `pending_receipts` and applied by `apply_pending_receipts`, which the daemon
calls every second; parked receipts that never find their job are dropped after a day.

Verdicts (the `verdict` label of campaigner_webhook_events_total{type="status"}): accepted,
duplicate, parked, ignored (a non-final status: queued/sent never move a job).
"""

from __future__ import annotations

import logging

from campaigner import metrics
from campaigner.model.provider import DeliveryStatus, StatusEvent
from campaigner.store.store import Store

log = logging.getLogger(__name__)

# A parked receipt whose job never became submitted is dropped after this many seconds.
RECEIPT_MAX_AGE = 86_400.0


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
