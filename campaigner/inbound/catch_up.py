"""Receipt catch-up: a job `submitted` too long without a receipt is asked about, not forgotten.

A receipt answered 503 during a database blip, sent while no daemon was up, or never sent would
leave its job `submitted` for ever. So the daemon asks the provider where such messages are
(`Provider.receipt`: Cliqtel's "Get Message", Clickatell's "Message status"), paced like every
other request of the account, and applies each final answer as the receipt it stands for
(`receipts.handle_status`: once, never backwards). `campaigner sync ID` does the same on demand.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Protocol

from campaigner.errors import CampaignerError
from campaigner.inbound.policy import InboundPolicy
from campaigner.inbound.receipts import handle_status
from campaigner.model.provider import DeliveryStatus, StatusEvent
from campaigner.store.store import Store

log = logging.getLogger(__name__)

FINAL = (DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED)


class ReceiptSource(Protocol):
    """What catch-up needs of a provider client."""

    async def receipt(self, provider_id: str) -> StatusEvent | None: ...


async def catch_up(
    store: Store,
    source: ReceiptSource,
    campaign_id: int,
    *,
    older_than: float,
    limit: int,
    pace: Callable[[], Awaitable[object]],
    policy: InboundPolicy,
) -> Counter[str]:
    """Ask about up to `limit` jobs of `campaign_id` waiting `older_than` seconds for a receipt.

    Returns what became of them: delivered, undelivered, in_flight (not final yet), unknown (the
    provider could not say), failed (the lookup failed; the rest of the round is left for later).
    """
    outcome: Counter[str] = Counter()
    for provider_id in await store.awaiting_receipt(campaign_id, older_than, limit):
        await pace()
        try:
            event = await source.receipt(provider_id)
        except CampaignerError as exc:
            log.warning("campaign %s: receipt of %s could not be read: %s", campaign_id, provider_id, exc)
            outcome["failed"] += 1
            break  # the provider cannot answer now; the next round asks again
        if event is None:
            outcome["unknown"] += 1
        elif event.status not in FINAL:
            outcome["in_flight"] += 1
        else:
            await handle_status(store, [event], policy.for_lookups())
            outcome[str(event.status)] += 1
    if outcome:
        log.info("campaign %s: receipts caught up: %s", campaign_id, dict(outcome))
    return outcome


async def catch_up_all(
    store: Store,
    source: ReceiptSource,
    campaign_id: int,
    *,
    older_than: float,
    batch: int,
    pace: Callable[[], Awaitable[object]],
    policy: InboundPolicy,
) -> Counter[str]:
    """`catch_up` in batches until every waiting job was asked about once: a batch that leaves
    jobs in flight, unknown or unreadable ends it (the next round asks about them again)."""
    total: Counter[str] = Counter()
    while True:
        outcome = await catch_up(
            store, source, campaign_id, older_than=older_than, limit=batch, pace=pace, policy=policy
        )
        total.update(outcome)
        settled = outcome["delivered"] + outcome["undelivered"]
        if not outcome or settled < sum(outcome.values()):
            return total
