"""After a cancel: stop the campaign's messages that still wait at the provider.

A cancel stops our sending at once, but messages the provider accepted may still sit in its queue
(a slow route, a scheduled delivery). Clickatell can stop those ("Stop message": `DELETE
/rest/message/{apiMessageId}`, for messages "scheduled for delivery in the future or queued within
our router"); a stopped one answers status 006 and is applied as its receipt (undelivered, once).
One that already left for the carrier is refused and stays as it is. Requests are paced like every
other request of the account.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from campaigner.errors import CampaignerError
from campaigner.inbound.policy import InboundPolicy
from campaigner.inbound.receipts import handle_status
from campaigner.model.provider import DeliveryStatus, StatusEvent
from campaigner.providers.errors import ProviderUnavailable
from campaigner.store.store import Store

log = logging.getLogger(__name__)

STOPPED = "stopped at the provider by `campaigner cancel`"


@runtime_checkable
class MessageStopper(Protocol):
    """A provider that can stop a message it still holds; its status afterwards."""

    async def stop(self, provider_id: str) -> DeliveryStatus | None: ...


async def stop_queued(
    store: Store,
    stopper: MessageStopper,
    campaign_id: int,
    *,
    pace: Callable[[], Awaitable[object]],
    policy: InboundPolicy,
    batch: int = 200,
) -> Counter[str]:
    """Ask the provider to stop every message of `campaign_id` still waiting for its receipt.

    Returns how many were `stopped`, `already_sent` (refused: on their way), and `failed` (the
    provider could not answer now; the rest were not asked).
    """
    outcome: Counter[str] = Counter()
    asked: set[str] = set()
    while True:
        waiting = [
            p for p in await store.awaiting_receipt(campaign_id, 0.0, batch + len(asked)) if p not in asked
        ]
        if not waiting:
            return outcome
        for provider_id in waiting:
            asked.add(provider_id)
            await pace()
            try:
                status = await stopper.stop(provider_id)
            except ProviderUnavailable as exc:
                log.warning("campaign %s: stopping queued messages interrupted: %s", campaign_id, exc)
                outcome["failed"] += 1
                return outcome
            except CampaignerError:
                outcome["already_sent"] += 1  # refused: it left the provider's queue already
                continue
            if status is DeliveryStatus.UNDELIVERED:
                event = StatusEvent(provider_id=provider_id, status=status, error=STOPPED)
                await handle_status(store, [event], policy.for_lookups())
                outcome["stopped"] += 1
            else:
                outcome["already_sent"] += 1
