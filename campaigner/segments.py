"""How an SMS body is encoded and split: GSM-7 or UCS-2, units, segments and the units of each part.

The rules (3GPP TS 23.038 and the concatenation header of TS 23.040):

- GSM-7 if and only if every character is in the default alphabet or its extension table; an
  extension character (``^ { } \\ [ ] ~ | €`` and form feed) is sent as ESC + char, 2 septets.
- Otherwise UCS-2 (really UTF-16, as every provider sends it): a BMP character is 1 unit, a
  character outside the BMP (most emoji) is a surrogate pair, 2 units.
- One segment holds 160 septets / 70 units. A longer message is sent in parts of at most 153 / 67
  (the rest of each part is the user data header), and an escape pair or a surrogate pair is never
  split across parts, so a part may close one unit early (152 / 66).
- The empty message is GSM-7, 1 segment, 0 units.

`count_segments` is called once per personalised message of a campaign (millions of times in a
preview), so the common case takes one regex scan done in C: a message of GSM basic characters
only has 1 unit a character and its parts follow by arithmetic. Only messages holding 2-unit
characters walk the positions of those characters (not the text) to place the part boundaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from campaigner.smart_encoding import Replacement, smart_encode, smart_replacements

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "Encoding",
    "Replacement",
    "SegmentCount",
    "SmartEncodeReport",
    "count_segments",
    "is_gsm7",
    "non_gsm_chars",
    "smart_encode",
    "smart_encode_report",
    "smart_replacements",
]

Encoding = Literal["GSM-7", "UCS-2"]

# The 3GPP TS 23.038 default alphabet, in code order 0x00-0x7F, without 0x1B (the escape to the
# extension table, not a character). Note: Ç (0x09) is in it, ç is not; the Greek capitals are the
# Greek letters U+0394 etc., not look-alikes such as U+2206 INCREMENT or U+2126 OHM SIGN.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ"
    "ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The default extension table: each costs ESC + itself, 2 septets.
GSM7_EXTENSION = "\f^{}\\[~]|€"

_GSM_BASIC_SET = frozenset(GSM7_BASIC)
_GSM_SET = frozenset(GSM7_BASIC + GSM7_EXTENSION)


def _char_class(chars: str, negate: bool) -> re.Pattern[str]:
    body = "".join(re.escape(c) for c in sorted(set(chars)))
    return re.compile(f"[{'^' if negate else ''}{body}]")


# Compiled once: each search runs in C over the whole message, far faster than a Python loop.
_NOT_GSM_BASIC = _char_class(GSM7_BASIC, negate=True)
_NOT_GSM = _char_class(GSM7_BASIC + GSM7_EXTENSION, negate=True)
_GSM_EXTENSION = _char_class(GSM7_EXTENSION, negate=False)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """How one message is sent: its encoding, how many segments, and the units in each part.

    `units` is septets for GSM-7 and UTF-16 code units for UCS-2; `parts` lists the units of
    each part in order, and always sums to `units` (the empty message has one part of 0).
    """

    encoding: Encoding
    segments: int
    units: int
    parts: list[int]


def count_segments(text: str) -> SegmentCount:
    """Encoding, segment count, units and units per part of `text`, exactly as a handset splits it."""
    first = _NOT_GSM_BASIC.search(text)
    if first is None:
        # The common case: GSM basic characters only, 1 septet each.
        return _split_plain("GSM-7", len(text), GSM7_SINGLE, GSM7_MULTI)
    start = first.start()
    if _NOT_GSM.search(text, start) is None:
        wide = [m.start() for m in _GSM_EXTENSION.finditer(text, start)]
        return _split("GSM-7", len(text), wide, GSM7_SINGLE, GSM7_MULTI)
    wide = [m.start() for m in _ASTRAL.finditer(text)]
    if not wide:
        return _split_plain("UCS-2", len(text), UCS2_SINGLE, UCS2_MULTI)
    return _split("UCS-2", len(text), wide, UCS2_SINGLE, UCS2_MULTI)


def _split_plain(encoding: Encoding, units: int, single: int, multi: int) -> SegmentCount:
    # Every character is 1 unit: no pair can straddle a boundary, so the parts are arithmetic.
    if units <= single:
        return SegmentCount(encoding, 1, units, [units])
    full, rest = divmod(units, multi)
    parts = [multi] * full
    if rest:
        parts.append(rest)
    return SegmentCount(encoding, len(parts), units, parts)


def _split(encoding: Encoding, length: int, wide: list[int], single: int, multi: int) -> SegmentCount:
    """Parts of a text of `length` characters where the characters at `wide` (sorted) cost 2 units."""
    units = length + len(wide)
    if units <= single:
        return SegmentCount(encoding, 1, units, [units])
    parts: list[int] = []
    nwide = len(wide)
    pos = 0  # index of the next character to place
    k = 0  # index in `wide` of the next 2-unit character at or after `pos`
    while pos < length:
        room = multi
        while True:
            next_wide = wide[k] if k < nwide else length
            if next_wide - pos >= room:
                # Plain characters fill the rest of this part (or end the text inside it).
                take = min(room, length - pos)
                pos += take
                room -= take
                break
            # Plain characters up to the next 2-unit one, then that one if it fits whole.
            room -= next_wide - pos
            pos = next_wide
            if next_wide == length:
                break
            if room < 2:
                break  # never split a pair: this part closes one unit early
            room -= 2
            pos += 1
            k += 1
        parts.append(multi - room)
    return SegmentCount(encoding, len(parts), units, parts)


def is_gsm7(text: str) -> bool:
    """True when every character of `text` is in the GSM-7 default alphabet or its extension table."""
    return _NOT_GSM.search(text) is None


def non_gsm_chars(text: str) -> list[str]:
    """The distinct characters of `text` that force UCS-2, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in _NOT_GSM.finditer(text):
        seen.setdefault(match.group(), None)
    return list(seen)


@dataclass(frozen=True, slots=True)
class SmartEncodeReport:
    """What `smart_encode` did to one message, and what it saved."""

    original: str
    text: str
    replacements: list[Replacement]
    before: SegmentCount
    after: SegmentCount

    @property
    def saved_segments(self) -> int:
        """Segments saved by smart encoding; negative in the rare case it costs more (70 "…")."""
        return self.before.segments - self.after.segments


def smart_encode_report(text: str) -> SmartEncodeReport:
    """Smart-encode `text` and count it before and after, for `--smart-encoding` displays."""
    encoded = smart_encode(text)
    before = count_segments(text)
    after = before if encoded == text else count_segments(encoded)
    return SmartEncodeReport(text, encoded, smart_replacements(text), before, after)
