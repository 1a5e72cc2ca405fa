"""Delivery receipts: a job moves `submitted → delivered | undelivered`, once.

A repeated or out-of-order receipt (`sent` after `delivered`) changes nothing. A receipt only ever
touches jobs of the account whose webhook received it (`InboundPolicy.account`): provider ids
are unique within an account, not across the accounts sharing a database.

A *final* receipt whose provider id matches no submitted job may simply have arrived before the
dispatcher wrote that job's result (results are flushed in batches, and a lost reply is only
settled by a later lookup), so it is parked in `pending_receipts` and applied by
`apply_pending_receipts`, which the daemon calls every second; parked receipts that never find
their job are dropped after a day. Parking is bounded: at most `daemon.parked_receipts_per_request`
from one request, and none while the account has `daemon.parked_receipts_max` waiting, so one
signed request cannot fill the table. A whole request is one statement.

A receipt that echoes our clientMessageId (Clickatell) first settles the job it names, if that
job's send was ambiguous and it still waits in `sending` (or was given up as `unknown`): it becomes
`submitted` with the provider's id, so the receipt, or a later one, applies to it. Any status does
this, a queued one too: the message reached the provider. Counted as verdict `settled`.

Verdicts (the `verdict` label of campaigner_webhook_events_total{type="status"}): accepted,
duplicate, parked, park_refused (not parked: over a cap), ignored (a non-final status: queued/sent
never move a job), stale and future_dated (dated outside `daemon.event_max_age` /
`daemon.event_max_skew`: a replayed or forged callback is not applied).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from campaigner import metrics
from campaigner.inbound.policy import InboundPolicy
from campaigner.inbound.receipt_batcher import ReceiptStore
from campaigner.model.inbound import CallbackEcho, FinalReceipt
from campaigner.model.provider import DeliveryStatus, StatusEvent
from campaigner.store.store import Store

log = logging.getLogger(__name__)

# A parked receipt whose job never became submitted is dropped after this many seconds.
RECEIPT_MAX_AGE = 86_400.0


async def handle_status(
    store: Store, events: Sequence[StatusEvent], policy: InboundPolicy, receipts: ReceiptStore | None = None
) -> Counter[str]:
    """Apply one request's receipts to `policy.account`'s jobs; returns how many got each verdict.

    `receipts`: the account's ReceiptBatcher in the daemon (requests that arrive together share a
    statement); the store itself otherwise."""
    verdicts: Counter[str] = Counter()
    now = datetime.now(UTC)
    finals: dict[str, FinalReceipt] = {}
    echoes: list[CallbackEcho] = []
    for event in events:
        if event.ref is not None and policy.window_problem(event.occurred_at, now) is None:
            echoes.append(CallbackEcho(event.ref, event.ref_e164, event.provider_id))
        if event.status not in (DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED):
            # queued/sent never move a job, least of all backwards: no need to look the message up
            # (every message brings one or two of these, so a query each would double the load).
            verdicts["ignored"] += 1
            continue
        problem = policy.window_problem(event.occurred_at, now)
        if problem is not None:
            verdicts[problem] += 1
            log.warning(
                "%s receipt for message id %s dated %s: outside the accepted window, not applied",
                event.status,
                event.provider_id,
                event.occurred_at.isoformat() if event.occurred_at else "?",
                extra={"provider_id": event.provider_id, "verdict": problem},
            )
            continue
        if event.provider_id in finals:
            # The first final receipt of a message decides (a job never leaves a final state).
            verdicts["duplicate"] += 1
            continue
        undelivered = event.status is DeliveryStatus.UNDELIVERED
        finals[event.provider_id] = FinalReceipt(
            event.provider_id,
            str(event.status),
            "undelivered" if undelivered else None,
            event.error,
            event.occurred_at,
            event.reported_segments,
            event.reported_cost,
        )
    if echoes and (settled := await store.settle_by_callback(policy.account, echoes)):
        verdicts["settled"] += settled
        log.info("%d jobs whose send was unsure settled by their status callback", settled)
    results = await (receipts or store).apply_receipts(
        policy.account,
        list(finals.values()),
        park_limit=policy.park_per_request,
        park_max=policy.park_max,
    )
    refused = 0
    for result in results:
        verdicts[result.verdict] += 1
        if result.verdict == "accepted":
            metrics.receipt_applied(policy.account, finals[result.provider_id].status)
            log.debug(
                "job %s %s",
                result.job_id,
                finals[result.provider_id].status,
                extra={
                    "campaign_id": result.campaign_id,
                    "job_id": result.job_id,
                    "provider_id": result.provider_id,
                },
            )
        elif result.verdict == "parked":
            log.debug(
                "receipt for message id %s that matches no submitted job: kept until its job is submitted",
                result.provider_id,
                extra={"provider_id": result.provider_id},
            )
        elif result.verdict == "park_refused":
            refused += 1
    if refused:  # counted as the park_refused verdict
        log.warning(
            "%d receipts of account %s match no job and were not parked (at most %d a request, %d waiting)",
            refused,
            policy.account,
            policy.park_per_request,
            policy.park_max,
            extra={"verdict": "park_refused"},
        )
    return verdicts


async def apply_pending_receipts(store: Store, account: str) -> int:
    """Apply `account`'s parked receipts whose job is now submitted and drop those a day old;
    returns the number of receipts applied.

    The daemon calls it about every second; several daemons may call it at once.
    """
    applied, expired = await store.apply_pending_receipts(account, RECEIPT_MAX_AGE)
    if applied:
        metrics.PARKED_RECEIPTS.labels("applied").inc(applied)
        log.info("applied %d receipts that arrived before their job's result", applied)
    if expired:
        metrics.PARKED_RECEIPTS.labels("expired").inc(expired)
        log.warning("dropped %d receipts whose message id matched no job for a day", expired)
    return applied
