"""One `--format` for every command that prints data, and one JSON and CSV style for all of them.

    @format_option("table", "json", "csv")
    def campaigns_command(app, output_format): ...
    echo_json(rows)            # one line, UTF-8, numbers as numbers
    echo_csv(header, rows)     # RFC 4180 with \\n line ends, texts made inert for spreadsheets

`CAMPAIGNER_FORMAT` sets the format of every command that has `--format`: a command that does not
offer the chosen one (CAMPAIGNER_FORMAT=csv and `status`, which has no CSV) keeps its default
rather than failing, since the variable is a preference across commands. An explicit `--format`
must be one the command offers.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import click

FORMAT_ENV = "CAMPAIGNER_FORMAT"
# Older names some commands took; still read, then shown as the name they stand for.
_ALIASES = {"text": "table"}

F = TypeVar("F", bound=Callable[..., Any])


def format_option(*choices: str, default: str = "table", name: str = "output_format") -> Callable[[F], F]:
    """The `--format` option: `choices` (the first is the default unless `default` says otherwise),
    falling back to CAMPAIGNER_FORMAT when given and offered, else `default`."""

    def pick(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
        if value is not None:
            return _ALIASES.get(value, value)
        preferred = os.environ.get(FORMAT_ENV, "").strip().lower()
        preferred = _ALIASES.get(preferred, preferred)
        return preferred if preferred in choices else default

    offered = [*choices, *(alias for alias, meant in _ALIASES.items() if meant in choices)]
    return click.option(
        "--format",
        name,
        type=click.Choice(offered, case_sensitive=False),
        default=None,
        callback=pick,
        help=f"Output: {' | '.join(choices)} (default {default}, or {FORMAT_ENV} when it is one of them).",
    )


def to_json(value: Any) -> str:
    """`value` as campaigner writes JSON everywhere: one line, UTF-8 kept, numbers as numbers."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def echo_json(value: Any) -> None:
    click.echo(to_json(value))


# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """`cell` made inert for spreadsheets: a leading formula character gets a `'` in front."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def inert(cell: Any) -> Any:
    """A text cell a spreadsheet will not run as a formula (see `neutralise`); others as they are."""
    return neutralise(cell) if isinstance(cell, str) else cell


def echo_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else inert(cell) for cell in row])
