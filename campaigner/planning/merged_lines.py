"""Rows that a stray quote may have merged: a warning in the preview, an error with `--strict`.

A quote that opens a cell and is not closed where the writer meant makes the CSV reader carry on
into the following lines, so the next recipients end up inside one cell of the first (and in its
SMS: "Hi abc\\n+31632000001,d"). A cell may hold a line break legitimately (an address), so a
multi-line row is only suspect when a line after the break looks like what was lost: a number
shaped like a phone number, or a line with as many delimiters as a whole row has.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from campaigner.text.listing import clip

# Digits with the separators people write numbers with, at least 8 digits in all: a house number
# or a post code has fewer.
_PHONE_SHAPED = re.compile(r"(?:\+|\b00)?\d[\d \t\-.()/]{6,}\d")
_MIN_DIGITS = 8


@dataclass(frozen=True, slots=True)
class MergedLines:
    """One row read from several lines whose continuation looks like another row."""

    first_line: int
    last_line: int
    column: str
    detail: str

    def describe(self) -> str:
        """`lines 3-4: column 'name' holds …`, for warnings and errors."""
        return f"lines {self.first_line}-{self.last_line}: {self.detail}"


def _phone_shaped(text: str) -> bool:
    return any(sum(c.isdigit() for c in m.group()) >= _MIN_DIGITS for m in _PHONE_SHAPED.finditer(text))


def suspect_merge(
    first_line: int, last_line: int, cells: Sequence[str], headers: Sequence[str], delimiter: str
) -> MergedLines | None:
    """The reason to suspect that the row read from `first_line`..`last_line` swallowed other rows,
    or None. Called only for rows that span several lines, so it costs nothing on ordinary files."""
    # Delimiters in a line of a whole row; with two columns one comma is too weak a sign (a cell's
    # "Utrecht, NL"), and a swallowed row of a two-column file holds its phone number anyway.
    whole_row = len(headers) - 1 if len(headers) >= 3 else None
    for index, cell in enumerate(cells):
        if "\n" not in cell and "\r" not in cell:
            continue
        name = headers[index] if index < len(headers) else f"#{index + 1}"
        for rest in cell.splitlines()[1:]:
            if _phone_shaped(rest):
                looks = "a phone number"
            elif whole_row is not None and rest.count(delimiter) >= whole_row:
                looks = "a whole row"
            else:
                continue
            return MergedLines(
                first_line,
                last_line,
                name,
                f"column {clip(name)!r} holds a line break followed by {clip(rest)!r}, which looks "
                f"like {looks}: a stray quote may have merged the next recipients into this row",
            )
    return None
