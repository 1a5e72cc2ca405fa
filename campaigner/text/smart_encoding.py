"""Smart encoding: replace look-alike Unicode characters with GSM-7 ones, and change nothing else.

One curly quote pasted from a word processor turns a whole message into UCS-2 and can double its
cost. The table below is the one Twilio's Smart Encoding publishes ("List of characters replaced by
Smart Encoding", also shipped in Twilio's message-segment-calculator), with these deliberate
differences, each to keep the promise that the text reads the same:

- every odd space (U+00A0, U+2000-U+200A, U+202F, U+205F, U+3000, ...) and a tab become ONE space;
- ‹ and › become < and > (Twilio's list has them the wrong way round), ‗ becomes _ (not ');
- added: the dashes and hyphens U+2011, U+2012, U+2212 → "-"; the primes ′ ″ ‵ ‶ → ' and ";
  „ → "; soft hyphen U+00AD removed (invisible unless a line breaks there);
- zero-width joiner and non-joiner (U+200C, U+200D) are kept: they build emoji sequences and are
  spelling in Persian and Indic scripts. The zero-width space, word joiner and BOM are removed.

Nothing outside the table is touched: no Unicode normalisation, no accent stripping (é stays é).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["SMART_ENCODING_TABLE", "Replacement", "smart_encode", "smart_replacements"]

_D, _S = '"', "'"

SMART_ENCODING_TABLE: dict[str, str] = {
    # Double quotation marks.
    "\u00ab": _D, "\u00bb": _D, "\u201c": _D, "\u201d": _D, "\u201e": _D, "\u201f": _D,
    "\u02ba": _D, "\u02ee": _D, "\u275d": _D, "\u275e": _D, "\u301d": _D, "\u301e": _D,
    "\uff02": _D, "\u2033": _D, "\u2036": _D,
    # Single quotation marks, apostrophes, primes and accents used as apostrophes.
    "\u2018": _S, "\u2019": _S, "\u201b": _S, "\u02bb": _S, "\u02c8": _S, "\u02bc": _S,
    "\u02bd": _S, "\u02b9": _S, "\uff07": _S, "\u00b4": _S, "\u02ca": _S, "\u0060": _S,
    "\u02cb": _S, "\u275b": _S, "\u275c": _S, "\u0313": _S, "\u0314": _S, "\ufe10": _S,
    "\ufe11": _S, "\u2032": _S, "\u2035": _S,
    # Angle quotation marks.
    "\u2039": "<", "\u203a": ">",
    # Dashes, hyphens and bullets.
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2043": "-", "\u2212": "-", "\u23bc": "-", "\u23bd": "-", "\ufe63": "-", "\uff0d": "-",
    "\u2022": "-",
    # Ellipsis, fractions, division.
    "\u2026": "...", "\u00bc": "1/4", "\u00bd": "1/2", "\u00be": "3/4", "\u00f7": "/",
    # Slashes, backslashes, low lines, vertical lines.
    "\u29f8": "/", "\u0337": "/", "\u0338": "/", "\u2044": "/", "\u2215": "/", "\uff0f": "/",
    "\u29f9": "\\", "\u29f5": "\\", "\u20e5": "\\", "\ufe68": "\\", "\uff3c": "\\",
    "\u0332": "_", "\uff3f": "_", "\u2017": "_",
    "\u20d2": "|", "\u20d3": "|", "\u2223": "|", "\uff5c": "|", "\u23b8": "|", "\u23b9": "|",
    "\u23d0": "|", "\u239c": "|", "\u239f": "|",
    # Small and fullwidth punctuation.
    "\ufe6b": "@", "\uff20": "@", "\ufe69": "$", "\uff04": "$",
    "\u01c3": "!", "\ufe15": "!", "\ufe57": "!", "\uff01": "!", "\u203c": "!!",
    "\ufe5f": "#", "\uff03": "#", "\ufe6a": "%", "\uff05": "%", "\ufe60": "&", "\uff06": "&",
    "\u201a": ",", "\u0326": ",", "\ufe50": ",", "\ufe51": ",", "\uff0c": ",", "\uff64": ",",
    "\u3001": ",",
    "\u2768": "(", "\u276a": "(", "\ufe59": "(", "\uff08": "(", "\u27ee": "(", "\u2985": "(",
    "\u2769": ")", "\u276b": ")", "\ufe5a": ")", "\uff09": ")", "\u27ef": ")", "\u2986": ")",
    "\u204e": "*", "\u2217": "*", "\u229b": "*", "\u2722": "*", "\u2723": "*", "\u2724": "*",
    "\u2725": "*", "\u2731": "*", "\u2732": "*", "\u2733": "*", "\u273a": "*", "\u273b": "*",
    "\u273c": "*", "\u273d": "*", "\u2743": "*", "\u2749": "*", "\u274a": "*", "\u274b": "*",
    "\u29c6": "*", "\ufe61": "*", "\uff0a": "*",
    "\u02d6": "+", "\ufe62": "+", "\uff0b": "+",
    "\u3002": ".", "\ufe52": ".", "\uff0e": ".", "\uff61": ".",
    "\u02d0": ":", "\u02f8": ":", "\u2982": ":", "\ua789": ":", "\ufe13": ":", "\uff1a": ":",
    "\u204f": ";", "\ufe14": ";", "\ufe54": ";", "\uff1b": ";",
    "\ufe64": "<", "\uff1c": "<", "\ufe65": ">", "\uff1e": ">",
    "\u0347": "=", "\ua78a": "=", "\ufe66": "=", "\uff1d": "=",
    "\ufe16": "?", "\ufe56": "?", "\uff1f": "?",
    "\u02c6": "^", "\u0302": "^", "\uff3e": "^", "\u1dcd": "^",
    "\u2774": "{", "\ufe5b": "{", "\uff5b": "{", "\u2775": "}", "\ufe5c": "}", "\uff5d": "}",
    "\uff3b": "[", "\uff3d": "]",
    "\u02dc": "~", "\u02f7": "~", "\u0303": "~", "\u0330": "~", "\u0334": "~", "\u223c": "~",
    "\uff5e": "~",
    # Fullwidth digits and letters, small capital letters.
    **{chr(0xFF10 + i): str(i) for i in range(10)},
    **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
    "\u1d00": "A", "\u0299": "B", "\u1d04": "C", "\u1d05": "D", "\u1d07": "E", "\ua730": "F",
    "\u0262": "G", "\u029c": "H", "\u026a": "I", "\u1d0a": "J", "\u1d0b": "K", "\u029f": "L",
    "\u1d0d": "M", "\u0274": "N", "\u1d0f": "O", "\u1d18": "P", "\u0280": "R", "\ua731": "S",
    "\u1d1b": "T", "\u1d1c": "U", "\u1d20": "V", "\u1d21": "W", "\u028f": "Y", "\u1d22": "Z",
    # Spaces that are not U+0020, and the tab: one plain space each.
    "\u00a0": " ", "\u2000": " ", "\u2001": " ", "\u2002": " ", "\u2003": " ", "\u2004": " ",
    "\u2005": " ", "\u2006": " ", "\u2007": " ", "\u2008": " ", "\u2009": " ", "\u200a": " ",
    "\u202f": " ", "\u205f": " ", "\u3000": " ", "\u2028": " ", "\u2029": " ", "\t": " ",
    "\u0080": " ", "\u008d": " ", "\u0090": " ", "\u009b": " ", "\u009f": " ",
    # Invisible characters: removed.
    "\u200b": "", "\u2060": "", "\ufeff": "", "\u00ad": "",
    "\u0000": "", "\u0003": "", "\u0004": "", "\u0010": "", "\u0011": "", "\u0012": "",
    "\u0013": "", "\u0014": "", "\u0017": "", "\u0019": "",
}  # fmt: skip

_TRANSLATE = str.maketrans(SMART_ENCODING_TABLE)
_ANY = re.compile("[" + "".join(re.escape(c) for c in sorted(SMART_ENCODING_TABLE)) + "]")


@dataclass(frozen=True, slots=True)
class Replacement:
    """One kind of character smart encoding replaced in a text, and how many times."""

    char: str
    replacement: str
    count: int

    @property
    def codepoint(self) -> str:
        """The replaced character as `U+201C`."""
        return f"U+{ord(self.char):04X}"

    @property
    def name(self) -> str:
        """The Unicode name of the replaced character (or its code point for unnamed controls)."""
        return unicodedata.name(self.char, self.codepoint)


def smart_encode(text: str) -> str:
    """`text` with every look-alike character of the table replaced by its GSM-7 equivalent.

    Characters not in the table are kept as they are, so the result may still need UCS-2.
    """
    # Most messages have nothing to replace: one C-level scan, and the same object back.
    if _ANY.search(text) is None:
        return text
    return text.translate(_TRANSLATE)


def smart_replacements(text: str) -> list[Replacement]:
    """What `smart_encode(text)` replaces: one entry per distinct character, in order of appearance."""
    counts: dict[str, int] = {}
    for match in _ANY.finditer(text):
        char = match.group()
        counts[char] = counts.get(char, 0) + 1
    return [Replacement(char, SMART_ENCODING_TABLE[char], n) for char, n in counts.items()]
