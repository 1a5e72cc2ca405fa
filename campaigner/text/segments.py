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
preview), so no Python loop ever walks the text: an ASCII message is checked with one
`bytes.translate`, any other with one regex scan, all in C. Without 2-unit characters the parts
follow by arithmetic and the (immutable) result is shared from a cache keyed by units; a
multi-part message holding 2-unit characters is split on them (`str.split`) and only the runs
between them are walked to place the part boundaries. Measured figures are in the README.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from campaigner.text.smart_encoding import Replacement, smart_encode, smart_replacements

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

# For ASCII text (most messages) the checks run on bytes: `bytes.translate(None, delete)` is a
# table-driven C loop, several times faster than a regex scan.
_ASCII_GSM_BASIC = bytes(c for c in range(128) if chr(c) in GSM7_BASIC)
_ASCII_GSM_EXTENSION = GSM7_EXTENSION.replace("€", "").encode("ascii")
# The extension character every other one is replaced by before splitting on it (see _gsm_runs).
_SENTINEL = "€"
_GSM_EXTENSION_SET = frozenset(GSM7_EXTENSION)


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
_LIMITS: dict[str, tuple[int, int]] = {"GSM-7": (GSM7_SINGLE, GSM7_MULTI), "UCS-2": (UCS2_SINGLE, UCS2_MULTI)}


class _Parts(list[int]):
    """A list that refuses changes: results are shared between calls (see `_plain`)."""

    __slots__ = ()

    def _frozen(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("SegmentCount.parts is read-only")

    append = extend = insert = pop = remove = clear = sort = reverse = _frozen
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _frozen

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Parts, (list(self),))

    def __copy__(self) -> _Parts:
        return self

    def __deepcopy__(self, memo: object) -> _Parts:
        return self


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """How one message is sent: its encoding, how many segments, and the units in each part.

    `units` is septets for GSM-7 and UTF-16 code units for UCS-2; `parts` lists the units of
    each part in order, and always sums to `units` (the empty message has one part of 0). Like the
    whole object, `parts` is read-only: equal results may be one shared object.
    """

    encoding: Encoding
    segments: int
    units: int
    parts: list[int]


# Results that depend only on (encoding, units): every message without 2-unit characters, and every
# single-part message. Shared, which is why SegmentCount and its parts are immutable; building a
# frozen dataclass costs about as much as the whole count.
_PLAIN_CACHE: dict[tuple[Encoding, int], SegmentCount] = {}
_PLAIN_CACHE_MAX_UNITS = 8192


def count_segments(text: str) -> SegmentCount:
    """Encoding, segment count, units and units per part of `text`, exactly as a handset splits it."""
    if text.isascii():
        rest = text.encode("ascii").translate(None, _ASCII_GSM_BASIC)
        if not rest:
            return _plain("GSM-7", len(text))
        if rest.translate(None, _ASCII_GSM_EXTENSION):
            return _plain("UCS-2", len(text))  # a control character or ` : UCS-2, all 1 unit
        return _with_wide("GSM-7", text, len(rest), lambda t: _gsm_runs(t, set(rest.decode("ascii"))))
    first = _NOT_GSM_BASIC.search(text)
    if first is None:
        return _plain("GSM-7", len(text))
    if first.group() in _GSM_EXTENSION_SET:
        # Probably GSM-7 with extension characters: one scan collects every non-basic character.
        found = _NOT_GSM_BASIC.findall(text, first.start())
        kinds = set(found)
        if kinds <= _GSM_EXTENSION_SET:
            return _with_wide("GSM-7", text, len(found), lambda t: _gsm_runs(t, kinds))
    wide = (len(text.encode("utf-16-le", "surrogatepass")) >> 1) - len(text)
    if not wide:
        return _plain("UCS-2", len(text))
    return _with_wide("UCS-2", text, wide, _ucs2_runs)


def _plain(encoding: Encoding, units: int) -> SegmentCount:
    """The count of a message of `units` 1-unit characters: parts follow by arithmetic."""
    key = (encoding, units)
    cached = _PLAIN_CACHE.get(key)
    if cached is not None:
        return cached
    single, multi = _LIMITS[encoding]
    if units <= single:
        parts = [units]
    else:
        full, rest = divmod(units, multi)
        parts = [multi] * full + ([rest] if rest else [])
    result = SegmentCount(encoding, len(parts), units, _Parts(parts))
    if units <= _PLAIN_CACHE_MAX_UNITS:
        _PLAIN_CACHE[key] = result
    return result


def _gsm_runs(text: str, kinds: set[str]) -> list[int]:
    """Lengths of the runs of 1-septet characters around each extension character of `text`.

    `kinds` are the extension characters present.
    """
    # str.replace and str.split run in C and beat a regex split several times over; messages
    # rarely hold more than one or two kinds of extension character.
    for char in kinds:
        if char != _SENTINEL:
            text = text.replace(char, _SENTINEL)
    return [len(run) for run in text.split(_SENTINEL)]


def _ucs2_runs(text: str) -> list[int]:
    """Lengths of the runs of BMP characters around each surrogate pair of `text`."""
    return [len(run) for run in _ASTRAL.split(text)]


def _with_wide(encoding: Encoding, text: str, wide: int, runs_of: Callable[[str], list[int]]) -> SegmentCount:
    """The count of `text` holding `wide` characters of 2 units each."""
    units = len(text) + wide
    single, multi = _LIMITS[encoding]
    if units <= single:
        return _plain(encoding, units)  # one part: where the pairs are does not matter
    segments, parts = _pack(runs_of(text), multi)
    return SegmentCount(encoding, segments, units, parts)


def _pack(runs: list[int], multi: int) -> tuple[int, list[int]]:
    """Fill parts of `multi` units from runs of 1-unit characters separated by 2-unit ones.

    `runs` has one more entry than there are 2-unit characters. A 2-unit character that does not
    fit whole in the current part moves to the next, which closes the current one a unit early.
    """
    parts: list[int] = []
    room = multi
    last = len(runs) - 1
    for index, run in enumerate(runs):
        while run >= room:  # the run fills this part (exactly, or with some left over)
            run -= room
            parts.append(multi)
            room = multi
        room -= run
        if index == last:
            break
        if room < 2:  # the pair does not fit: close this part early
            parts.append(multi - room)
            room = multi
        room -= 2
    if room < multi:
        parts.append(multi - room)
    return len(parts), _Parts(parts)


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
