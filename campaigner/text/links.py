"""Short links in a message: `{link:...}` placeholders, their targets, and the codes they get.

Syntax (what the README promises):

- `{link:https://shop.example.com/sale?utm_source=sms}` shortens that URL, written in the template.
- `{link:NAME}` shortens the URL defined by `--link NAME=URL`. That URL may hold `{column}`
  placeholders filled from the recipient's row, each value percent-escaped for a URL
  (`--link order=https://shop.example.com/o/{order_id}`); a URL that is one placeholder and
  nothing else (`--link shop={url}`) takes the cell as the whole URL, which must then be an
  http(s) URL itself (a row whose cell is not is set aside as `bad_link`).
- The same link written twice in one message is one short link: one code per recipient and link.

Codes are `code_length` characters of base62 drawn from the operating system's CSPRNG (`secrets`):
8 characters hold 47.6 bits, so a guess hits one of 10 million live codes once in 20 million tries.
They are drawn in bulk (one `token_bytes` call a batch, bytes ≥ 248 thrown away so that every
character is equally likely), as a 1 M-row load draws 8 M characters.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlsplit

from campaigner.errors import UserError
from campaigner.text.listing import short_list

__all__ = [
    "ALPHABET",
    "CodeSource",
    "LinkSet",
    "LinkTarget",
    "check_url",
    "is_code",
    "parse_link_options",
    "short_url",
]

ALPHABET: Final = string.digits + string.ascii_letters  # base62
_KEEP: Final = 248  # 4 × 62: bytes below this map evenly onto the alphabet
_TABLE: Final = bytes(ord(ALPHABET[b % 62]) for b in range(256))
_DROP: Final = bytes(range(_KEEP, 256))
_CODE_CHARS: Final = frozenset(ALPHABET)
# An absolute http(s) URL with a host and no white space (what a cell holding a whole URL must be).
_HTTP_URL: Final = re.compile(r"https?://[^\s/?#@]+(?:[/?#]\S*)?", re.IGNORECASE)


def is_code(text: str, length: int) -> bool:
    """Whether `text` could be a code of this length (checked before anything is looked up)."""
    return len(text) == length and all(c in _CODE_CHARS for c in text)


class CodeSource:
    """Random codes of one length, drawn from the CSPRNG in bulk."""

    __slots__ = ("_codes", "_length")

    def __init__(self, length: int) -> None:
        if length < 8:
            raise ValueError("a link code has at least 8 characters")
        self._length = length
        self._codes: list[str] = []

    def next(self) -> str:
        """One new code."""
        if not self._codes:
            n = self._length
            # ~1000 codes a refill; 3% of the bytes are dropped by the translate.
            chars = secrets.token_bytes(n * 1056).translate(_TABLE, _DROP).decode("ascii")
            self._codes = [chars[i : i + n] for i in range(0, len(chars) - n + 1, n)]
        return self._codes.pop()


def short_url(base_url: str, code: str, *, show_scheme: bool = True) -> str:
    """The short link as the message shows it."""
    url = f"{base_url.rstrip('/')}/{code}"
    if not show_scheme:
        url = url.split("://", 1)[-1]
    return url


def check_url(url: str, where: str) -> str:
    """`url` if it is an absolute http(s) URL with a host; a UserError naming `where` if not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise UserError(f"{where}: {url!r} is not an http:// or https:// URL")
    return url


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """One link of a message: its name and the URL it leads to, possibly with `{column}` fields."""

    name: str
    url: str
    # Filled by LinkSet.bind: the row index of each field, and whether the URL is one field alone.
    fields: tuple[int, ...] = ()
    pattern: str = ""
    whole_cell: bool = False

    def target(self, row: Sequence[str]) -> str | None:
        """The URL for one row; None when a whole-cell URL is empty or not http(s)."""
        if not self.fields:
            return self.url
        if self.whole_cell:  # the common per-recipient link: one cell, the whole URL
            index = self.fields[0]
            value = row[index].strip() if index < len(row) else ""
            return value if _HTTP_URL.fullmatch(value) else None
        values = [row[i] if i < len(row) else "" for i in self.fields]
        return self.pattern.format(*(quote(v, safe="") for v in values))


class LinkSet:
    """The links a template uses, in order, bound to the CSV's headers."""

    def __init__(self, targets: Sequence[LinkTarget]) -> None:
        self.targets = tuple(targets)

    @classmethod
    def of(cls, references: Sequence[str], defined: Mapping[str, str], headers: Sequence[str]) -> LinkSet:
        """Resolve each `{link:REF}` of a template (a URL or a `--link` name) against `headers`."""
        targets = []
        for ref in references:
            if "://" in ref:
                targets.append(_bind(ref, check_url(ref, f"message placeholder {{link:{ref}}}"), headers))
                continue
            if ref not in defined:
                names = short_list(sorted(defined)) if defined else "none"
                raise UserError(
                    f"message placeholder {{link:{ref}}}: no --link {ref}=URL was given (links: {names})"
                )
            targets.append(_bind(ref, defined[ref], headers))
        return cls(targets)

    def __bool__(self) -> bool:
        return bool(self.targets)


def parse_link_options(options: Sequence[str]) -> dict[str, str]:
    """`--link NAME=URL` options as name → URL; a malformed one is a UserError naming it."""
    links: dict[str, str] = {}
    for option in options:
        name, sep, url = option.partition("=")
        name = name.strip()
        if not sep or not name or not url.strip():
            raise UserError(f"--link {option!r}: write NAME=URL, e.g. --link shop=https://shop.example.com/")
        if not all(c.isalnum() or c in "_-" for c in name):
            raise UserError(f"--link {option!r}: the name may hold letters, digits, '_' and '-' only")
        if name in links:
            raise UserError(f"--link {name}: given twice")
        links[name] = url.strip()
    return links


def _bind(name: str, url: str, headers: Sequence[str]) -> LinkTarget:
    """A target with its `{column}` fields bound to header indexes (matched like the template's)."""
    # Local import: templates imports nothing of this module, so no cycle either way.
    from campaigner.text.templates import Template

    where = f"--link {name}" if "://" not in name else f"{{link:{name}}}"
    template = Template.parse(url, where)
    if template.links:
        raise UserError(f"{where}: a link's URL cannot hold another {{link:...}}")
    if not template.placeholders:
        check_url(url, where)
        return LinkTarget(name, url)
    template.check_columns(list(headers), "recipients")
    indexes = template.indexes
    whole = url.strip() == "{" + template.placeholders[0] + "}" and len(template.placeholders) == 1
    if not whole:
        # The fixed part must already be an http(s) URL: check it with dummy values filled in.
        check_url(template.pattern.format(*("x" for _ in indexes)), where)
    return LinkTarget(name, url, indexes, template.pattern, whole)
