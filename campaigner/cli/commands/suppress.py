"""`campaigner suppress add|remove|list|import`: numbers never to be sent to.

Numbers are normalised to E.164 like recipients are (`--region` for national formats). A listed
number's pending jobs, in every campaign, are skipped when a dispatcher claims them. `import` reads
one number per line (the first CSV column; a header line is skipped) and changes nothing unless
every line is a number.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import click

from campaigner.cli.context import AppContext, pass_app
from campaigner.cli.formats import echo_csv, echo_json, format_option
from campaigner.cli.regions import check_region
from campaigner.cli.safe import printable
from campaigner.errors import InputFileError, UserError
from campaigner.planning.phones import INVALID, PhoneClassifier
from campaigner.store.store import Store, run_with_store

_REGION = click.option(
    "--region",
    envvar="CAMPAIGNER_REGION",
    show_envvar=True,
    callback=check_region,
    help="Region for national numbers (e.g. NL).",
)


def _classifier(app: AppContext, region: str | None) -> PhoneClassifier:
    chosen = (region if region is not None else app.config.recipients.default_region).strip().upper()
    return PhoneClassifier(chosen or None, ())


def normalise(numbers: list[str], classifier: PhoneClassifier, where: list[str]) -> list[str]:
    """E.164 forms of `numbers`; the first that is not a phone number is a UserError naming `where`."""
    out: list[str] = []
    for raw, place in zip(numbers, where, strict=True):
        result = classifier.classify(raw)
        if result.status == INVALID or result.e164 is None:
            raise UserError(f"{place}: {raw!r} is not a phone number ({result.detail})")
        out.append(result.e164)
    return out


@click.group("suppress")
def suppress_group() -> None:
    """The suppression list: numbers never to be sent to."""


@suppress_group.command("add")
@click.argument("numbers", nargs=-1, required=True)
@click.option("--reason", default="manual", show_default=True)
@_REGION
@pass_app
def add_command(app: AppContext, numbers: tuple[str, ...], reason: str, region: str | None) -> None:
    """Add NUMBERS to the list (their pending jobs, in every campaign, are skipped when claimed)."""
    e164s = normalise(
        list(numbers), _classifier(app, region), [f"argument {i + 1}" for i in range(len(numbers))]
    )

    async def work(store: Store) -> int:
        return await store.add_suppressions(e164s, reason, "manual")

    added = run_with_store(app.config, work)
    click.echo(f"{added} added, {len(set(e164s)) - added} already listed")


@suppress_group.command("remove")
@click.argument("numbers", nargs=-1, required=True)
@_REGION
@pass_app
def remove_command(app: AppContext, numbers: tuple[str, ...], region: str | None) -> None:
    """Remove NUMBERS from the list: jobs already skipped stay skipped; pending ones will be sent."""
    e164s = normalise(
        list(numbers), _classifier(app, region), [f"argument {i + 1}" for i in range(len(numbers))]
    )

    async def work(store: Store) -> int:
        return await store.remove_suppressions(e164s)

    click.echo(f"{run_with_store(app.config, work)} removed")


@suppress_group.command("list")
@format_option("csv", "json", "table", default="csv")
@pass_app
def list_command(app: AppContext, output_format: str) -> None:
    """Print the list: e164, reason, source, created_at."""

    async def work(store: Store) -> list[dict[str, str]]:
        return [
            {"e164": s.e164, "reason": s.reason, "source": s.source, "created_at": s.created_at.isoformat()}
            for s in await store.list_suppressions()
        ]

    rows = run_with_store(app.config, work)
    if output_format == "json":
        echo_json(rows)
        return
    if output_format == "table":
        from rich.console import Console
        from rich.table import Table

        table = Table("e164", "reason", "source", "created_at", box=None)
        for row in rows:
            table.add_row(*(printable(value) for value in row.values()))
        Console(markup=False).print(table)
        return
    echo_csv(["e164", "reason", "source", "created_at"], (list(row.values()) for row in rows))


def read_numbers(path: Path, phone_columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """The numbers of `path` and where each came from: one a line, or a CSV's phone column.

    A first line without a digit is a header: its phone column (named as the recipients loader
    names it, `recipients.phone_columns`) is read, else the first column.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputFileError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: not valid UTF-8") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from None
    lines = list(enumerate(csv.reader(text.splitlines()), start=1))
    column = 0
    if lines and not any(ch.isdigit() for cell in lines[0][1] for ch in cell):
        header = [cell.strip().lower() for cell in lines[0][1]]
        column = next((header.index(name.lower()) for name in phone_columns if name.lower() in header), 0)
        lines = lines[1:]
    numbers: list[str] = []
    where: list[str] = []
    for line_no, cells in lines:
        if len(cells) <= column or not cells[column].strip():
            continue
        numbers.append(cells[column])
        where.append(f"{path}: line {line_no}")
    return numbers, where


@suppress_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--reason", default="import", show_default=True)
@_REGION
@pass_app
def import_command(app: AppContext, file: Path, reason: str, region: str | None) -> None:
    """Add every number in FILE: one a line, or a CSV's phone column (found by its header)."""
    numbers, where = read_numbers(file, app.config.recipients.phone_columns)
    e164s = normalise(numbers, _classifier(app, region), where)

    async def work(store: Store) -> int:
        return await store.add_suppressions(e164s, reason, f"import:{file.name}")

    added = run_with_store(app.config, work)
    click.echo(f"{added} added, {len(set(e164s)) - added} already listed")


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(suppress_group)
