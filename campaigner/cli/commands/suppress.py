"""`campaigner suppress add|remove|list|import|history|export|import-consent`: consent.

Numbers are normalised to E.164 like recipients are (`--region` for national formats). A listed
number's pending jobs, in every campaign, are skipped when a dispatcher claims them. `import` reads
one number per line (the first CSV column; a header line is skipped) and changes nothing unless
every line is a number. Every change is a row of the consent ledger (`history`, `export`), with
who made it: `cli:<user>@<host>` for add and remove, `import:<file>:<line>` for an import.
`import-consent` records opt-ins (consent.require_opt_in sends only to those numbers).
"""

from __future__ import annotations

import csv
import getpass
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
        return await store.add_suppressions(
            e164s, reason, "manual", origins=[cli_source()] * len(e164s), account=app.config.provider.account
        )

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
        return await store.remove_suppressions(e164s, cli_source())

    click.echo(f"{run_with_store(app.config, work)} removed")


@suppress_group.command("list")
@format_option("csv", "json", "table", default="csv")
@pass_app
def list_command(app: AppContext, output_format: str) -> None:
    """Print the list: e164, reason, source, created_at, sender (empty: the whole account)."""

    async def work(store: Store) -> list[dict[str, str]]:
        return [
            {
                "e164": s.e164,
                "reason": s.reason,
                "source": s.source,
                "created_at": s.created_at.isoformat(),
                "sender": s.sender,
            }
            for s in await store.list_suppressions()
        ]

    rows = run_with_store(app.config, work)
    if output_format == "json":
        echo_json(rows)
        return
    if output_format == "table":
        from rich.console import Console
        from rich.table import Table

        table = Table("e164", "reason", "source", "created_at", "sender", box=None)
        for row in rows:
            table.add_row(*(printable(value) for value in row.values()))
        Console(markup=False).print(table)
        return
    echo_csv(["e164", "reason", "source", "created_at", "sender"], (list(row.values()) for row in rows))


def _read_text(path: Path) -> str:
    """A list file's text; a clear error naming the file when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputFileError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: not valid UTF-8") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from None


def read_numbers(path: Path, phone_columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """The numbers of `path` and where each came from: one a line, or a CSV's phone column.

    A first line without a digit is a header: its phone column (named as the recipients loader
    names it, `recipients.phone_columns`) is read, else the first column.
    """
    text = _read_text(path)
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
        return await store.add_suppressions(
            e164s,
            reason,
            f"import:{file.name}",
            action="manual_add",
            origins=[f"import:{place.replace(': line ', ':')}" for place in where],
            account=app.config.provider.account,
        )

    added = run_with_store(app.config, work)
    click.echo(f"{added} added, {len(set(e164s)) - added} already listed")


def cli_source() -> str:
    """Who changes the list from the command line: `cli:<user>@<host>` (the ledger's source)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container with no passwd entry)
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


_LEDGER_COLUMNS = ["id", "e164", "action", "source", "sender", "occurred_at", "recorded_at", "campaign_id",
                   "provider_account", "detail"]  # fmt: skip
_REPLY_COLUMNS = ["kind", "state", "language", "segments", "cost", "inbound_provider_id", "provider_id",
                  "error_code", "created_at", "sent_at", "body"]  # fmt: skip


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else (str(value) if value is not None else None)


def _ledger_row(record: Any) -> dict[str, Any]:
    return {name: _plain(record[name]) for name in _LEDGER_COLUMNS}


@suppress_group.command("history")
@click.argument("number")
@format_option("table", "json", "csv", default="table")
@_REGION
@pass_app
def history_command(app: AppContext, number: str, output_format: str, region: str | None) -> None:
    """Every consent change of NUMBER (opt-outs, opt-ins, imports, manual changes, provider
    blocks, with their sources), whether it is listed now, and the confirmation replies it got."""
    [e164] = normalise([number], _classifier(app, region), ["NUMBER"])

    async def work(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
        ledger = [_ledger_row(r) for r in await store.consent_history(e164)]
        replies = [{name: _plain(r[name]) for name in _REPLY_COLUMNS} for r in await store.replies_to(e164)]
        listed = [s.sender or "account" for s in await store.list_suppressions() if s.e164 == e164]
        return ledger, replies, listed

    ledger, replies, listed = run_with_store(app.config, work)
    if output_format == "json":
        echo_json({"e164": e164, "suppressed": listed, "history": ledger, "replies": replies})
        return
    if output_format == "csv":
        echo_csv(_LEDGER_COLUMNS, ([row[c] for c in _LEDGER_COLUMNS] for row in ledger))
        return
    click.echo(f"{e164}: " + (f"suppressed ({', '.join(listed)})" if listed else "not suppressed"))
    if not ledger:
        click.echo("no consent history")
    for row in ledger:
        where = f" sender {row['sender']}" if row["sender"] else ""
        campaign = f" campaign {row['campaign_id']}" if row["campaign_id"] else ""
        detail = f" ({row['detail']})" if row["detail"] else ""
        click.echo(
            printable(
                f"{row['occurred_at']}  {row['action']:<14} {row['source']}{where}{campaign}{detail}"
                f"  [recorded {row['recorded_at']}]"
            )
        )
    for reply in replies:
        click.echo(
            printable(
                f"reply {reply['kind']} to inbound {reply['inbound_provider_id']}: {reply['state']}"
                f" ({reply['segments']} segment(s), cost {reply['cost']}) {reply['body']!r}"
            )
        )


def parse_since(value: str) -> datetime:
    """--since: an ISO 8601 time (no offset: local time) or an age such as 30d, 12h, 90m."""
    text = value.strip()
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    if text[:-1].isdigit() and text[-1:].lower() in units:
        return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * units[text[-1].lower()])
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"--since: {value!r} is neither an ISO 8601 time (e.g. 2026-01-01T00:00Z) nor an age (30d, 12h)"
        ) from None
    return parsed if parsed.tzinfo else parsed.astimezone()


@suppress_group.command("export")
@click.option("--since", "since", required=True, help="ISO 8601 time, or an age such as 30d.")
@format_option("csv", "json", default="csv")
@pass_app
def export_command(app: AppContext, since: str, output_format: str) -> None:
    """The consent ledger from --since on, for an auditor: one row per change, in order."""
    start = parse_since(since)

    async def work(store: Store) -> list[dict[str, Any]]:
        return [_ledger_row(r) for r in await store.consent_export(start)]

    rows = run_with_store(app.config, work)
    if output_format == "json":
        echo_json(rows)
        return
    echo_csv(_LEDGER_COLUMNS, ([row[c] for c in _LEDGER_COLUMNS] for row in rows))


@suppress_group.command("import-consent")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_REGION
@pass_app
def import_consent_command(app: AppContext, file: Path, region: str | None) -> None:
    """Record opt-ins from FILE, a CSV with a header: the number (a phone column, as recipients
    name it), `opted_in_at` (ISO 8601) and `source` (where the consent was given). Nothing is
    recorded unless every row is right; a bad one is named by file:line:column."""
    entries = read_consents(file, app.config.recipients.phone_columns, _classifier(app, region))

    async def work(store: Store) -> int:
        return await store.import_consents(entries, app.config.provider.account)

    added = run_with_store(app.config, work)
    click.echo(f"{len(entries)} opt-ins recorded ({added} new, {len(entries) - added} already recorded)")


def read_consents(
    path: Path, phone_columns: Sequence[str], classifier: PhoneClassifier
) -> list[tuple[str, datetime, str]]:
    """(E.164, opt-in time, source) of every row of `path`; the first bad cell is a UserError
    naming file:line:column. The source recorded is `import:<file>:<line>: <the row's source>`."""
    text = _read_text(path)
    rows = list(enumerate(csv.reader(text.splitlines()), start=1))
    if not rows:
        raise InputFileError(f"{path}: empty (expected a header: phone,opted_in_at,source)")
    header = [cell.strip().lower() for cell in rows[0][1]]
    phone = next((header.index(n.lower()) for n in phone_columns if n.lower() in header), None)
    missing = [] if phone is not None else ["a phone column"]
    missing += [name for name in ("opted_in_at", "source") if name not in header]
    if missing:
        raise InputFileError(
            f"{path}:1: the header needs {', '.join(missing)} (phone columns: {', '.join(phone_columns)})"
        )
    assert phone is not None
    at_col, source_col = header.index("opted_in_at"), header.index("source")
    now = datetime.now(UTC)
    found: dict[str, tuple[str, datetime, str]] = {}
    for line, cells in rows[1:]:
        if not any(cell.strip() for cell in cells):
            continue

        def cell(index: int, name: str, line: int = line, cells: list[str] = cells) -> str:
            value = cells[index].strip() if index < len(cells) else ""
            if not value:
                raise InputFileError(f"{path}:{line}:{index + 1}: {name} is empty")
            return value

        raw = cell(phone, header[phone])
        result = classifier.classify(raw)
        if result.status == INVALID or result.e164 is None:
            raise InputFileError(
                f"{path}:{line}:{phone + 1}: {raw!r} is not a phone number ({result.detail})"
            )
        when_text = cell(at_col, "opted_in_at")
        try:
            when = datetime.fromisoformat(when_text)
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            when.astimezone(UTC)
        except (ValueError, OverflowError):
            raise InputFileError(
                f"{path}:{line}:{at_col + 1}: opted_in_at {when_text!r} is not an ISO 8601 time "
                "(e.g. 2026-03-01T12:00:00Z)"
            ) from None
        if when > now + timedelta(minutes=5):
            raise InputFileError(f"{path}:{line}:{at_col + 1}: opted_in_at {when_text!r} is in the future")
        source = cell(source_col, "source")
        found.setdefault(result.e164, (result.e164, when, f"import:{path.name}:{line}: {source}"))
    if not found:
        raise InputFileError(f"{path}: no consent rows after the header")
    return sorted(found.values())


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(suppress_group)
