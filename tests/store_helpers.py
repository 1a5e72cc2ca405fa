"""Helpers for the store tests: PlannedMessage-like rows and a loaded campaign."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from campaigner.store.rows import CampaignTotals, NewCampaign
from campaigner.store.store import Store


@dataclass(frozen=True, slots=True)
class Planned:
    """The shape of campaigner.planning.planner.PlannedMessage that the store reads."""

    line: int
    e164: str
    country: str | None
    body: str
    encoding: str
    segments: int
    cost: float


def planned(count: int, start: int = 0, batch: int = 1000) -> Iterator[list[Planned]]:
    """`count` distinct Dutch mobile numbers, in batches."""
    rows = [
        Planned(
            i + 2, f"+316{20_000_000 + i:08d}", "NL", f"Hello {i}", "GSM-7", 1 + i % 2, 0.008 * (1 + i % 2)
        )
        for i in range(start, start + count)
    ]
    for at in range(0, len(rows), batch):
        yield rows[at : at + batch]


async def make_campaign(store: Store, count: int, state: str = "running", start: int = 0) -> int:
    """A campaign of `count` jobs in `state` (draft, running, paused, ...)."""
    cost = sum(Decimal(repr(0.008 * (1 + i % 2))) for i in range(start, start + count))
    campaign_id = await store.create_campaign(
        NewCampaign(name=f"test {count}", message="Hello {name}"),
        planned(count, start),
        lambda: CampaignTotals(count, cost, {"sendable": count}),
    )
    if state in ("running", "paused"):
        await store.set_campaign_state(campaign_id, "running")
    if state == "paused":
        await store.pause_campaign(campaign_id, "test")
    return campaign_id


async def jobs_of(store: Store, campaign_id: int) -> list[asyncpg.Record]:
    """Every job of a campaign in id order (the export's columns: id, e164, state, error_code, ...)."""
    return [row async for row in store.export_jobs(campaign_id)]
