"""Message templates: `{column}` placeholders filled from each recipient's CSV row.

Syntax and matching rules (what the README promises):

- `{name}` is a placeholder; `{{` and `}}` are a literal `{` and `}`. Anything else with a brace
  (an unclosed `{`, a lone `}`, `{}`, a brace inside a placeholder, a line break inside one) is a
  `UserError` naming the line and column of the offending brace.
- The name is matched against the CSV headers ignoring case and surrounding spaces, so
  `{first_name}` finds a `First_Name` column. If two headers differ only by case, the one spelled
  exactly like the placeholder wins; with no exact one the placeholder is ambiguous (an error).
- A value that is empty or only whitespace is "empty": with policy `"reject"` rendering raises
  `EmptyValue` (the caller sets the row aside), with `"empty"` it renders as nothing.
- Values are inserted as they are: no trimming, no escaping, no recursive placeholders.
- `{link:...}` is a short link, not a column (campaigner.text.links): the template records it in
  `links` and the caller passes each recipient's short URL to `render_row`.

Rendering runs once per recipient, so the template is compiled once into a `str.format` pattern of
positional fields: a render is one C-level `format` call, and a template without placeholders
returns its text as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from campaigner.errors import UserError
from campaigner.text.listing import short_list

__all__ = ["EmptyPolicy", "EmptyValue", "Template"]

EmptyPolicy = Literal["reject", "empty"]


class EmptyValue(Exception):
    """A placeholder's column is empty in this row and the policy is to reject such rows."""

    def __init__(self, column: str) -> None:
        super().__init__(f"column {column!r} is empty")
        self.column = column


class Template:
    """A parsed message template; build it with `Template.parse`."""

    __slots__ = ("_columns", "_format", "_indexes", "links", "placeholders", "text")

    def __init__(
        self, text: str, literal_format: str, placeholders: tuple[str, ...], links: tuple[str, ...] = ()
    ) -> None:
        self.text = text
        #: The placeholder names in order of first appearance, as written (without braces).
        self.placeholders = placeholders
        #: The `{link:REF}` references in order of first appearance (REF: a URL or a --link name).
        self.links = links
        self._format = literal_format
        # Filled by check_columns: the CSV header each placeholder is read from, and its index.
        self._columns: tuple[str, ...] = placeholders
        self._indexes: tuple[int, ...] | None = None

    @classmethod
    def parse(cls, text: str, source: str = "message") -> Template:
        """Compile `text`; a malformed brace is a UserError naming `source`, line and column."""
        pieces: list[str | tuple[bool, int]] = []  # literals, and (is a link, index) fields
        names: list[str] = []
        links: list[str] = []
        i, n = 0, len(text)
        literal_start = 0
        while i < n:
            char = text[i]
            if char == "}":
                if text.startswith("}}", i):
                    pieces.append(text[literal_start : i + 2])  # "}}" is format's own literal
                    i += 2
                    literal_start = i
                    continue
                raise UserError(f"{source}: single '}}' at {_where(text, i)} (write '}}}}' for a brace)")
            if char != "{":
                i += 1
                continue
            if text.startswith("{{", i):
                pieces.append(text[literal_start : i + 2])
                i += 2
                literal_start = i
                continue
            end = _placeholder_end(text, i, source)
            name = text[i + 1 : end].strip()
            if not name:
                raise UserError(f"{source}: empty placeholder '{{}}' at {_where(text, i)}")
            pieces.append(text[literal_start:i])
            if name.startswith("link:"):
                ref = name[len("link:") :].strip()
                if not ref:
                    raise UserError(f"{source}: empty link placeholder at {_where(text, i)}")
                if ref not in links:
                    links.append(ref)
                pieces.append((True, links.index(ref)))
            else:
                if name not in names:
                    names.append(name)
                pieces.append((False, names.index(name)))
            i = end + 1
            literal_start = i
        pieces.append(text[literal_start:])
        # Columns are fields 0..n-1, links come after them: one positional format call renders both.
        literal_format = "".join(
            piece if isinstance(piece, str) else "{" + str(piece[1] + (len(names) if piece[0] else 0)) + "}"
            for piece in pieces
        )
        if not names and not links:
            # No fields: the "pattern" is the text with {{ }} already undone, used as is.
            literal_format = literal_format.replace("{{", "{").replace("}}", "}")
        return cls(text, literal_format, tuple(names), tuple(links))

    def check_columns(self, headers: Sequence[str], source: str) -> None:
        """Bind every placeholder to a header of `source`; an unknown or ambiguous one is a UserError.

        After this, `render` reads rows keyed by those headers and `render_row` reads rows as lists.
        """
        exact = {h: i for i, h in enumerate(headers)}
        folded: dict[str, list[int]] = {}
        for i, header in enumerate(headers):
            folded.setdefault(header.strip().casefold(), []).append(i)
        indexes: list[int] = []
        for name in self.placeholders:
            if name in exact:
                indexes.append(exact[name])
                continue
            found = folded.get(name.casefold(), [])
            if len(found) == 1:
                indexes.append(found[0])
            elif not found:
                listed = short_list(headers)
                raise UserError(
                    f"message placeholder {{{name}}} has no column in {source} (columns: {listed})"
                )
            else:
                spelled = short_list([headers[i] for i in found])
                raise UserError(
                    f"message placeholder {{{name}}} matches several columns in {source}: {spelled}"
                )
        self._indexes = tuple(indexes)
        self._columns = tuple(headers[i] for i in indexes)

    @property
    def indexes(self) -> tuple[int, ...]:
        """The row index each placeholder reads (after `check_columns`)."""
        if self._indexes is None:
            raise RuntimeError("Template.indexes needs check_columns first")
        return self._indexes

    @property
    def pattern(self) -> str:
        """The `str.format` pattern: placeholders as fields 0..n-1, then the links."""
        return self._format

    @property
    def columns(self) -> tuple[str, ...]:
        """The header each placeholder reads (the placeholder names until `check_columns` binds them)."""
        return self._columns

    def render(
        self, fields: Mapping[str, str], empty: EmptyPolicy = "reject", links: Sequence[str] = ()
    ) -> str:
        """The message for one row given as header → value; raises EmptyValue under "reject"."""
        if not self.placeholders and not self.links:
            return self._format
        values = []
        for column in self._columns:
            value = fields.get(column)
            if value is None:
                raise UserError(f"message placeholder column {column!r} is missing from the row")
            if not value or value.isspace():
                if empty == "reject":
                    raise EmptyValue(column)
                value = ""
            values.append(value)
        return self._format.format(*values, *links)

    def render_row(self, row: Sequence[str], empty: EmptyPolicy = "reject", links: Sequence[str] = ()) -> str:
        """The message for one CSV row given as a list of cells (after `check_columns`), with the
        recipient's short URLs in the order of `self.links`."""
        if not self.placeholders and not self.links:
            return self._format
        return self._format.format(*self.row_values(row, empty), *links)

    def row_values(self, row: Sequence[str], empty: EmptyPolicy = "reject") -> list[str]:
        """The placeholders' values for one CSV row (after `check_columns`); raises EmptyValue under
        "reject". With `render_values`, a row rendered with several sets of links (a stand-in, the
        short URLs, the targets) reads and checks its cells once."""
        if self._indexes is None:
            raise RuntimeError("Template.row_values needs check_columns first")
        values = []
        for index, column in zip(self._indexes, self._columns, strict=True):
            value = row[index] if index < len(row) else ""
            if not value or value.isspace():
                if empty == "reject":
                    raise EmptyValue(column)
                value = ""
            values.append(value)
        return values

    def render_values(self, values: Sequence[str], links: Sequence[str] = ()) -> str:
        """The message from `row_values` and the short URLs in the order of `self.links`."""
        if not self.placeholders and not self.links:
            return self._format
        return self._format.format(*values, *links)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


def _placeholder_end(text: str, start: int, source: str) -> int:
    """Index of the `}` closing the placeholder opened at `start`."""
    for j in range(start + 1, len(text)):
        char = text[j]
        if char == "}":
            return j
        if char == "{":
            raise UserError(f"{source}: '{{' inside a placeholder at {_where(text, j)}")
        if char in "\r\n":
            break
    raise UserError(f"{source}: unclosed '{{' at {_where(text, start)} (write '{{{{' for a brace)")


def _where(text: str, index: int) -> str:
    """1-based line and column of `text[index]`."""
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"
