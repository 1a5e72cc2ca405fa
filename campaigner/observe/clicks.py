"""What a campaign's short links were clicked: totals, per country, click-through, over time.

People and bots are kept apart: a link-preview bot's fetch is recorded but never counted as a
click or a clicker. The click-through rate is unique clickers over delivered messages (None
until one is delivered), per campaign and per country.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from campaigner.model.links import LinkStats

# Minutes of click timeline the views show (a day: clicks come for hours after a send).
CLICK_TIMELINE_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class CountryClickFacts:
    """People's clicks to one country ('' when unknown) and its click-through rate."""

    country: str
    clicks: int
    unique_clickers: int
    delivered: int
    click_through_rate: float | None


@dataclass(frozen=True, slots=True)
class ClickMinuteFacts:
    minute: datetime
    clicks: int
    first_clicks: int


@dataclass(frozen=True, slots=True)
class ClickFacts:
    """A campaign's links and their clicks."""

    links: int
    clicks: int  # by people, first clicks and repeats
    unique_clickers: int  # recipients who clicked at least once
    repeat_clicks: int
    bot_clicks: int  # link-preview bots: never in clicks or clickers
    delivered: int
    click_through_rate: float | None
    by_country: tuple[CountryClickFacts, ...]
    timeline: tuple[ClickMinuteFacts, ...]


def click_facts(stats: LinkStats, delivered: int, delivered_by_country: dict[str, int]) -> ClickFacts:
    """The facts from the store's figures and the delivered counts (overall and per country)."""
    return ClickFacts(
        links=stats.links,
        clicks=stats.clicks,
        unique_clickers=stats.clickers,
        repeat_clicks=stats.clicks - stats.clicked_links,
        bot_clicks=stats.bot_clicks,
        delivered=delivered,
        click_through_rate=_rate(stats.clickers, delivered),
        by_country=tuple(
            CountryClickFacts(
                c.country,
                c.clicks,
                c.clickers,
                delivered_by_country.get(c.country, 0),
                _rate(c.clickers, delivered_by_country.get(c.country, 0)),
            )
            for c in stats.countries
        ),
        timeline=tuple(ClickMinuteFacts(m.minute, m.clicks, m.firsts) for m in stats.timeline),
    )


def _rate(clickers: int, delivered: int) -> float | None:
    return round(clickers / delivered, 4) if delivered else None
