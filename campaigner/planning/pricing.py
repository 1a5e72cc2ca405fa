"""What a campaign costs and how long it takes: price per segment by country, totals, ETA.

Money is `Decimal` from the config's prices to the stored costs, so totals are exact. Per-country
sums are accumulated as segment counts (integers) and multiplied by the price once; a message's own
cost comes from a small table of (country, segments) → cost, so a row costs a dict look-up, no
arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from campaigner.config import PricingConfig, ProviderConfig

__all__ = ["CostTable", "CountryCost", "eta_seconds", "format_money"]


@dataclass(frozen=True, slots=True)
class CountryCost:
    """One row of the cost table: messages, segments and their cost to one destination country."""

    country: str | None  # ISO 3166 alpha-2, or None when the number has no known region
    recipients: int
    segments: int
    cost: Decimal
    price_per_segment: Decimal


class CostTable:
    """Adds up messages one at a time, by destination country, at the configured prices.

    `add` is called once per recipient of a preview, so it does two dict look-ups and no more.
    """

    __slots__ = ("_config", "_costs", "_prices", "_recipients", "_segments", "currency")

    def __init__(self, config: PricingConfig | None = None) -> None:
        self._config = config or PricingConfig()
        self.currency = self._config.currency
        self._prices: dict[str | None, Decimal] = {}
        self._costs: dict[tuple[str | None, int], Decimal] = {}
        self._recipients: dict[str | None, int] = {}
        self._segments: dict[str | None, int] = {}

    def price(self, country: str | None) -> Decimal:
        """Price of one segment to `country` (the default price when it has none of its own)."""
        price = self._prices.get(country)
        if price is None:
            price = self._prices[country] = self._config.per_segment(country)
        return price

    def add(self, country: str | None, segments: int) -> Decimal:
        """Count one message of `segments` segments to `country`; return what it costs."""
        if country not in self._recipients:
            self._recipients[country] = 0
            self._segments[country] = 0
        self._recipients[country] += 1
        self._segments[country] += segments
        cost = self._costs.get((country, segments))
        if cost is None:
            cost = self._costs[(country, segments)] = self.price(country) * segments
        return cost

    def by_country(self) -> list[CountryCost]:
        """One row per country seen, most expensive first (then most segments, then by code)."""
        rows = [
            CountryCost(
                country, self._recipients[country], segs, segs * self._prices[country], self._prices[country]
            )
            for country, segs in self._segments.items()
        ]
        rows.sort(key=lambda r: (-r.cost, -r.segments, r.country or "~"))
        return rows

    @property
    def total_cost(self) -> Decimal:
        """Cost of every message added so far."""
        return sum((segs * self._prices[country] for country, segs in self._segments.items()), Decimal(0))

    @property
    def total_segments(self) -> int:
        """Segments of every message added so far."""
        return sum(self._segments.values())

    @property
    def total_recipients(self) -> int:
        """Messages added so far."""
        return sum(self._recipients.values())


def eta_seconds(messages: int, segments: int, provider: ProviderConfig, requests: int | None = None) -> float:
    """Seconds to send `messages` messages of `segments` segments in all at the provider's ceiling.

    The ceiling is the slower of `requests` (campaigner.dispatch.request_sizing.RequestCount: a batching
    provider sends one text per request; default: recipients_per_request numbers in each) at
    requests_per_minute, and messages_per_second; where the carrier counts segments
    (`rate_counts_segments`), that limit applies to segments instead, so long messages slow it.
    """
    if messages <= 0:
        return 0.0
    if requests is None:
        requests = -(-messages // provider.recipients_per_request)
    by_requests = requests / (provider.requests_per_minute / 60.0)
    by_rate = (segments if provider.rate_counts_segments else messages) / provider.messages_per_second
    return max(by_requests, by_rate)


def expiring_at_eta(messages: int, eta: float, valid_for: float) -> int:
    """Of `messages` sent evenly over `eta` seconds, how many are still unsent after `valid_for`
    seconds (they would expire): 0 when the campaign fits its validity."""
    if messages <= 0 or eta <= valid_for:
        return 0
    return messages - int(messages * valid_for / eta)


def format_money(amount: Decimal, currency: str) -> str:
    """`amount` for display: cents for totals, more digits when it is below one cent (per-segment prices)."""
    if amount != 0 and abs(amount) < Decimal("0.01"):
        return f"{amount:.6f}".rstrip("0") + f" {currency}"
    return f"{amount:,.2f} {currency}"
