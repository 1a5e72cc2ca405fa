"""A campaign priced in the provider's own unit: Clickatell charges credits, not euros.

The preview and the balance check price a Clickatell campaign from its coverage command
(`GET /rest/coverage/{msisdn}`: the lowest credit charge of one plain message part): looked up once
per destination country, with that country's example mobile number from libphonenumber as the
probe, and never per message (the document says not to call it before each one). The figure is a
floor ("no guarantee that all your messages will be charged this value"), and it is shown as such.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

import phonenumbers

from campaigner.errors import ProviderError
from campaigner.model.provider import Coverage

CREDITS = "credits"


@runtime_checkable
class CoverageSource(Protocol):
    """A provider that can say what one message part to a number costs at least, in credits."""

    async def coverage(self, e164: str) -> Coverage: ...


@dataclass
class CreditEstimate:
    """Credits a campaign needs at least, per country; countries whose charge could not be read."""

    total: Decimal = Decimal(0)
    per_country: dict[str, Decimal] = field(default_factory=dict)
    unpriced: dict[str, str] = field(default_factory=dict)  # country (or "?") -> why

    def as_json(self) -> dict[str, object]:
        return {
            "currency": CREDITS,
            "at_least": float(self.total),
            "per_country": {country: float(credits) for country, credits in self.per_country.items()},
            "unpriced": dict(self.unpriced),
        }


def probe_number(country: str) -> str | None:
    """An example mobile number of `country` (E.164) to ask coverage about, or None."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return None
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


class CreditPricer:
    """Prices segments per country in credits, one coverage request per country at most."""

    def __init__(self, source: CoverageSource) -> None:
        self._source = source
        self._charges: dict[str, Decimal | str] = {}  # country -> charge, or why there is none

    async def _charge(self, country: str) -> Decimal | str:
        if country not in self._charges:
            probe = probe_number(country)
            if probe is None:
                self._charges[country] = "no example number to ask coverage about"
            else:
                try:
                    coverage = await self._source.coverage(probe)
                except ProviderError as exc:
                    self._charges[country] = f"coverage unavailable: {exc}"
                else:
                    if not coverage.routable:
                        self._charges[country] = "not routable (coverage)"
                    elif coverage.minimum_charge is None:
                        self._charges[country] = "coverage gave no minimum charge"
                    else:
                        self._charges[country] = coverage.minimum_charge
        return self._charges[country]

    async def estimate(self, segments_by_country: Mapping[str | None, int]) -> CreditEstimate:
        """Credits for `segments_by_country` (None: numbers of no known country)."""
        estimate = CreditEstimate()
        for country, segments in sorted(segments_by_country.items(), key=lambda item: item[0] or ""):
            if not segments:
                continue
            if country is None:
                estimate.unpriced["?"] = "numbers of no known country"
                continue
            charge = await self._charge(country)
            if isinstance(charge, str):
                estimate.unpriced[country] = charge
                continue
            credits = charge * segments
            estimate.per_country[country] = credits
            estimate.total += credits
        return estimate
