"""The number a reply came from, read as the loader reads a recipient's: the same E.164 or none.

A STOP must suppress exactly the number its jobs were loaded with, so the sender goes through the
loader's own parser (`campaigner.planning.phones.PhoneClassifier`: `(0)`, `tel:`, invisible and
full-width characters, non-ASCII digits, a leading apostrophe). A number written nationally is
read in the region of the number that received it (a provider writes a sender nationally only
when it is local to the network that delivered the message), else in `recipients.default_region`.

Providers also write numbers in ways no spreadsheet does, so two readings are tried after that:
digits without a '+' as an international number (the MSISDN form many providers send), and a
'00' prefix as the international one in a region whose own prefix is another (US: 011). A '+'
before a '0' is dropped first: no country code starts with 0, so it is a client that put a '+'
before a number that had none (Clickatell's client turns `0031…` into `+0031…`).

Only a number libphonenumber finds valid is an answer; whatever its type, since a STOP from any
number is honoured. Anything else is None with the reason, and the reply is kept, not dropped.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from campaigner.planning.phones import OK, PhoneClassifier, clean

_SEPARATORS = re.compile(r"[\s\-./()]")


class Sender(NamedTuple):
    """A reply's sender: `e164` when it parsed, else None and why not."""

    e164: str | None
    problem: str


class ReplyNumbers:
    """Reads reply senders for one default region (None or "": none). One per webhook app."""

    def __init__(self, default_region: str | None) -> None:
        self.default_region = (default_region or "").upper() or None
        self._by_region: dict[str | None, PhoneClassifier] = {}

    def _classifier(self, region: str | None) -> PhoneClassifier:
        found = self._by_region.get(region)
        if found is None:
            # No excluded types: only validity matters for an opt-out.
            found = self._by_region[region] = PhoneClassifier(region, ())
        return found

    def region_of(self, number: str) -> str | None:
        """The region of a receiving number written internationally, or None."""
        if not number:
            return None
        result = self._classifier(None).classify(_plus_zero_dropped(clean(number)))
        return result.country if result.status == OK else None

    def sender(self, from_number: str, to_number: str = "") -> Sender:
        """`from_number` as E.164, reading a national number in `to_number`'s region first."""
        text = _plus_zero_dropped(clean(from_number or ""))
        if not text:
            return Sender(None, "no number")
        regions: list[str | None] = []
        for region in (self.region_of(to_number), self.default_region, None):
            if region not in regions:
                regions.append(region)
        digits = _SEPARATORS.sub("", text)
        readings = [(text, region) for region in regions]
        if digits.isdigit() and not digits.startswith("0"):
            readings.append(("+" + digits, None))
        elif digits.startswith("00"):
            readings.append(("+" + digits[2:], None))
        problem = ""
        for reading, region in readings:
            result = self._classifier(region).classify(reading)
            if result.status == OK and result.e164:
                return Sender(result.e164, "")
            problem = problem or result.detail
        return Sender(None, problem or "not a valid number")


def _plus_zero_dropped(text: str) -> str:
    return text[1:].lstrip() if text.startswith("+") and text[1:].lstrip().startswith("0") else text
