"""Short links as the store keeps them and the views show them (issue 17)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What a code resolves to: the redirect's target, its campaign, and when it was made."""

    target: str
    campaign_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Click:
    """One answered redirect, as the daemon buffers it until the next flush."""

    code: str
    clicked_at: datetime
    bot: bool
    ua_hash: str | None


@dataclass(frozen=True, slots=True)
class CountryClicks:
    """People's clicks to one destination country ("" when unknown)."""

    country: str
    clicks: int
    clickers: int


@dataclass(frozen=True, slots=True)
class ClickMinute:
    """People's clicks in one minute, and how many of them were a link's first."""

    minute: datetime
    clicks: int
    firsts: int


@dataclass(frozen=True, slots=True)
class LinkStats:
    """A campaign's links and their clicks; bots' clicks are kept apart, never counted as people."""

    links: int
    clicks: int
    bot_clicks: int
    clickers: int  # recipients with at least one person's click
    clicked_links: int  # links with at least one (the rest of the clicks are repeats)
    countries: tuple[CountryClicks, ...]
    timeline: tuple[ClickMinute, ...]
