"""Pricing: per-country prices, the cost table, ETA from the provider limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigner.config import PricingConfig, ProviderConfig
from campaigner.dispatch.request_sizing import RequestCount, claim_size
from campaigner.planning.pricing import CostTable, eta_seconds, format_money
from campaigner.providers.registry import recipients_per_request


def test_default_price_is_cliqtel_eight_tenths_of_a_cent_in_euro() -> None:
    table = CostTable()
    assert table.currency == "EUR"
    assert table.add("NL", 1) == Decimal("0.008")
    assert table.add(None, 3) == Decimal("0.024")


def test_country_prices_from_config_and_default_for_the_rest() -> None:
    prices = PricingConfig(
        currency="USD", default_per_segment=Decimal("0.01"), countries={"US": Decimal("0.0075")}
    )
    table = CostTable(prices)
    assert table.currency == "USD"
    assert table.add("US", 2) == Decimal("0.015")
    assert table.add("DE", 2) == Decimal("0.02")
    assert table.price("US") == Decimal("0.0075")


def test_by_country_rows_sorted_by_cost_descending() -> None:
    table = CostTable(PricingConfig(countries={"US": Decimal("0.05")}))
    for _ in range(3):
        table.add("NL", 2)
    table.add("US", 1)
    table.add(None, 1)
    rows = table.by_country()
    assert [(r.country, r.recipients, r.segments) for r in rows] == [("US", 1, 1), ("NL", 3, 6), (None, 1, 1)]
    assert rows[0].cost == Decimal("0.05")
    assert rows[1].cost == Decimal("0.048")
    assert rows[1].price_per_segment == Decimal("0.008")


def test_totals() -> None:
    table = CostTable()
    assert (table.total_cost, table.total_segments, table.total_recipients) == (0, 0, 0)
    table.add("NL", 2)
    table.add("BE", 3)
    assert table.total_segments == 5
    assert table.total_recipients == 2
    assert table.total_cost == Decimal("0.04")


def test_a_million_messages_add_up_exactly() -> None:
    table = CostTable()
    total = Decimal(0)
    for _ in range(1_000_000):
        total += table.add("NL", 1)
    assert table.total_cost == total == Decimal("8000.000")


def test_eta_limited_by_requests_per_minute() -> None:
    # Cliqtel: 60 requests a minute, one recipient each, 10 msg/s carrier limit: 1 msg/s.
    provider = ProviderConfig()
    assert eta_seconds(3600, 3600, provider) == pytest.approx(3600)


def test_eta_limited_by_messages_per_second_with_batches() -> None:
    # Clickatell-style batches of 500 at 60 req/min would allow 500 msg/s; the carrier allows 10.
    provider = ProviderConfig(recipients_per_request=500, messages_per_second=10)
    assert provider.ceiling_messages_per_second() == 10
    assert eta_seconds(1000, 3000, provider) == pytest.approx(100)


def test_eta_counts_segments_when_the_carrier_does() -> None:
    provider = ProviderConfig(recipients_per_request=500, messages_per_second=10, rate_counts_segments=True)
    assert eta_seconds(1000, 3000, provider) == pytest.approx(300)
    # Still never faster than the request limit allows.
    slow = ProviderConfig(requests_per_minute=6, rate_counts_segments=True)
    assert eta_seconds(10, 10, slow) == pytest.approx(100)


def test_eta_of_nothing_is_zero() -> None:
    assert eta_seconds(0, 0, ProviderConfig()) == 0.0


def test_format_money() -> None:
    assert format_money(1234.5, "EUR") == "1,234.50 EUR"
    assert format_money(0.008, "EUR") == "0.008 EUR"
    assert format_money(0.0075, "USD") == "0.0075 USD"
    assert format_money(0, "EUR") == "0.00 EUR"


def test_requests_follow_the_dispatchers_claims_and_texts() -> None:
    # Clickatell, 20 numbers a request, claims of 40: one shared text is 2 requests a claim; a
    # personalised one is a request a recipient.
    clickatell = ProviderConfig(
        type="clickatell", recipients_per_request=20, messages_per_second=20, requests_per_minute=60
    )
    per_request = recipients_per_request(clickatell)
    claim = claim_size(per_request, 20, 60, 100)
    assert (per_request, claim) == (20, 40)
    shared, personal = RequestCount(per_request, claim), RequestCount(per_request, claim)
    for i in range(100):
        shared.add("Hi all")
        personal.add(f"Hi {i}")
    assert shared.requests == 5  # claims of 40, 40, 20: 2 + 2 + 1
    assert personal.requests == 100
    # At 60 requests a minute the personalised campaign takes 100 s, the shared one 5 s.
    assert eta_seconds(100, 100, clickatell, personal.requests) == pytest.approx(100)
    assert eta_seconds(100, 100, clickatell, shared.requests) == pytest.approx(5)
    # Clickatell's defaults: 200 a request, within its 100 msg/s.
    assert recipients_per_request(ProviderConfig(type="clickatell")) == 100
    assert recipients_per_request(ProviderConfig()) == 1  # Cliqtel
    assert claim_size(1, 10, 60, 100) == 3  # Cliqtel: 1 msg/s, about two seconds of it
