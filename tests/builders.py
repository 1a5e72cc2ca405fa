"""The one builder of planned messages and campaigns for every test tier."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.model.jobs import PlannedMessage
from campaigner.model.states import CampaignState
from campaigner.store.store import Store

PRICE = Decimal("0.008")


def message(
    line: int,
    e164: str,
    body: str = "Hello",
    *,
    country: str | None = "NL",
    encoding: str = "GSM-7",
    segments: int = 1,
    cost: Decimal | None = None,
) -> PlannedMessage:
    """One planned message; its cost is `segments` times the default price unless given."""
    return PlannedMessage(
        line, e164, country, body, encoding, segments, PRICE * segments if cost is None else cost, {}
    )


def numbers(count: int, start: int = 0) -> list[str]:
    """`count` distinct valid Dutch mobile numbers."""
    return [f"+316{10_000_000 + start + i:08d}" for i in range(count)]


def planned(count: int, start: int = 0, batch: int = 1000) -> Iterator[list[PlannedMessage]]:
    """`count` distinct Dutch mobile numbers, personalised, of one or two segments, in batches."""
    rows = [
        message(i + 2, f"+316{20_000_000 + i:08d}", f"Hello {i}", segments=1 + i % 2)
        for i in range(start, start + count)
    ]
    for at in range(0, len(rows), batch):
        yield rows[at : at + batch]


async def make_campaign(store: Store, count: int, state: str = "running", start: int = 0) -> int:
    """A campaign of `count` jobs (as `planned` makes them) in `state` (draft, running, paused)."""
    cost = sum((PRICE * (1 + i % 2) for i in range(start, start + count)), Decimal(0))
    campaign_id = await store.create_campaign(
        NewCampaign(name=f"test {count}", message="Hello {name}"),
        planned(count, start),
        lambda: CampaignTotals(count, cost, {"sendable": count}),
    )
    if state in (CampaignState.RUNNING, CampaignState.PAUSED):
        await store.set_campaign_state(campaign_id, CampaignState.RUNNING)
    if state == CampaignState.PAUSED:
        await store.pause_campaign(campaign_id, "test")
    return campaign_id


async def create_running_campaign(
    store: Store, recipients: list[str], body: str = "Hello {n}", account: str = "default"
) -> int:
    """A campaign of `account` with one pending job per recipient, already `running`."""
    rows = [message(i + 2, e164, body.replace("{n}", str(i))) for i, e164 in enumerate(recipients)]
    spec = NewCampaign(name="test", message=body, provider_account=account)
    totals = CampaignTotals(total_jobs=len(rows), estimated_cost=PRICE * len(rows), preview={})
    campaign_id = await store.create_campaign(spec, [rows], lambda: totals)
    await store.resume_campaign(campaign_id)
    return campaign_id
