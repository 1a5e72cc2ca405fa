"""Replies by polling: for a provider whose documents offer no inbound webhook (Cliqtel).

Cliqtel's guide says inbound webhooks are "coming soon" and to poll the inbound list meanwhile. So
the daemon reads `GET /messages?direction=inbound&since=…` every `provider.inbound_poll_interval`
seconds (each page paced by the account's shared schedule, since reads count against the same 60
requests a minute), and hands each reply to the same STOP/START handling as a webhook.

Where the reading stopped is kept in the database (`inbound_cursors`: the newest message id
applied, and its time), so a restarted daemon neither misses a reply nor applies one twice: each
poll asks from a little before that time (`OVERLAP`, for clocks and late inserts) and applies only
ids above it, in id order, moving the cursor after each. A first poll reaches back `FIRST_LOOK`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from campaigner.model.provider import InboundEvent
from campaigner.store.store import Store

log = logging.getLogger(__name__)

# Each poll asks from this long before the newest reply applied.
OVERLAP = timedelta(minutes=5)
# With no cursor yet (a first start), replies this old are read: a STOP of yesterday still counts.
FIRST_LOOK = timedelta(days=1)


class InboundSource(Protocol):
    """What polling needs of a provider client."""

    async def inbound_since(self, since: datetime) -> list[InboundEvent]: ...


def _numeric_id(event: InboundEvent) -> int | None:
    return int(event.provider_id) if event.provider_id.isdigit() else None


async def poll_once(
    store: Store,
    source: InboundSource,
    account: str,
    apply: Callable[[InboundEvent], Awaitable[str]],
    pace: Callable[[], Awaitable[object]],
) -> Counter[str]:
    """Read the replies that came since the cursor and apply each once, in order; their verdicts."""
    cursor = await store.inbound_cursor(account)
    last_id, last_at = cursor if cursor is not None else (0, datetime.now(UTC) - FIRST_LOOK)
    await pace()
    events = await source.inbound_since(last_at - OVERLAP if cursor is not None else last_at)
    verdicts: Counter[str] = Counter()
    for event in events:
        number = _numeric_id(event)
        if number is None:
            log.warning("inbound message id %r is not a number: not polled", event.provider_id)
            verdicts["bad_id"] += 1
            continue
        if number <= last_id:
            continue  # applied by an earlier poll (the overlap reads it again)
        verdicts[await apply(event)] += 1
        last_id = number
        await store.save_inbound_cursor(account, number, event.received_at or datetime.now(UTC))
    if verdicts:
        log.info("inbound replies polled for %s: %s", account, dict(verdicts))
    return verdicts
