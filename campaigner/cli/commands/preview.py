"""`campaigner preview`: what a campaign would cost, to whom, and why some rows will not be sent.

Nothing is sent and nothing is stored. The output files (`--sendable-out`, `--rejects-out`) are
written to a temporary name next to the target and renamed only when the whole file has been
planned, so a user error (exit 2) leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import click

from campaigner.app.credits import CoverageSource, CreditPricer
from campaigner.app.source_checks import checked_message, parse_validity
from campaigner.cli.context import AppContext, pass_app
from campaigner.cli.footer import footer_choice, footer_options
from campaigner.cli.formats import echo_json, format_option, neutralise
from campaigner.cli.regions import check_region
from campaigner.cli.stdin import STDIN, STDIN_NAME, readable
from campaigner.compliance.windows import CountryWindow
from campaigner.config import Config
from campaigner.errors import InputFileError, UserError
from campaigner.planning.planner import CountryLine, PlannedMessage, Planner, PlanOptions, Rejected
from campaigner.providers.registry import capabilities_of, make_provider
from campaigner.text.links import parse_link_options


def validity_seconds(
    config: Config, valid_for: timedelta | None, valid_until: datetime | None
) -> float | None:
    """The validity the preview warns about: the options', else [dispatcher] valid_for."""
    if valid_for is not None:
        return valid_for.total_seconds()
    if valid_until is not None:
        return max(0.0, (valid_until - datetime.now(UTC)).total_seconds())
    return config.dispatcher.valid_for_seconds()


def one_stdin(recipients: str | Path, message_file: str | None) -> None:
    """Standard input can be read once: the recipients or the message, not both."""
    if str(recipients) == STDIN and message_file == STDIN:
        raise UserError("RECIPIENTS and --message-file cannot both be - (standard input is read once)")


def read_message(message: str | None, message_file: str | None) -> tuple[str, str]:
    """The message text and how to name it in errors, from exactly one of the two options."""
    if (message is None) == (message_file is None):
        raise UserError("give the message with exactly one of --message or --message-file")
    if message is not None:
        text, source = message, "--message"
    else:
        assert message_file is not None
        path = Path(message_file)
        name = STDIN_NAME if message_file == STDIN else str(path)  # `-`: standard input
        raw = b""
        try:
            raw = sys.stdin.buffer.read() if message_file == STDIN else path.read_bytes()
            text = raw.decode("utf-8-sig")
        except FileNotFoundError:
            raise InputFileError(f"{path}: message file not found") from None
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise InputFileError(f"{name}: line {line}: message file is not valid UTF-8") from None
        except OSError as exc:
            raise InputFileError(f"{name}: cannot read message file ({exc.strerror})") from None
        # Editors end files with a newline; it is not part of the message (and would cost a septet).
        text, source = text.rstrip("\r\n"), name
    return checked_message(text, source), source


class _Outputs:
    """The optional CSV outputs, written to temporary files and published by `commit()`."""

    def __init__(self, sendable: str | None, rejects: str | None) -> None:
        self.targets: list[tuple[Path, IO[str], Path]] = []
        self.planner: Planner | None = None
        self._header_done = False
        self.sendable = self._open(sendable) if sendable else None
        self.rejects = self._open(rejects) if rejects else None

    def _open(self, target: str) -> Any:
        path = Path(target)
        if path.is_dir():
            raise UserError(f"{path}: is a directory")
        if not path.parent.exists():
            raise UserError(f"{path}: folder {path.parent} does not exist")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self.targets.append((Path(tmp), handle, path))
        return csv.writer(handle)

    def header(self) -> None:
        """Write both header lines once; the planner knows the columns before its first row."""
        if self._header_done or self.planner is None:
            return
        self._header_done = True
        original = [neutralise(h) for h in self.planner.headers]
        if self.sendable is not None:
            self.sendable.writerow(["e164", *original])
        if self.rejects is not None:
            self.rejects.writerow(["line", "raw", "reason", "detail", *original])

    def planned(self, batch: list[PlannedMessage]) -> None:
        """Write a batch of sendable rows: E.164 as is, the original cells neutralised."""
        self.header()
        if self.sendable is not None:
            self.sendable.writerows([m.e164, *map(neutralise, m.fields.values())] for m in batch)

    def rejected(self, row: Rejected) -> None:
        """Write one rejected row with its line, raw value, reason and detail."""
        self.header()
        if self.rejects is not None:
            cells = [str(row.line), row.raw, row.reason, row.detail, *row.values]
            self.rejects.writerow([cells[0], *map(neutralise, cells[1:])])

    def commit(self) -> None:
        """Close and rename every temporary file to its target."""
        self.header()
        for tmp, handle, path in self.targets:
            handle.close()
            os.replace(tmp, path)
        self.targets = []

    def discard(self) -> None:
        """Close and remove the temporary files (after an error)."""
        for tmp, handle, _ in self.targets:
            handle.close()
            tmp.unlink(missing_ok=True)
        self.targets = []


@contextmanager
def _outputs(sendable: str | None, rejects: str | None) -> Iterator[_Outputs]:
    outputs = _Outputs(sendable, rejects)
    try:
        yield outputs
    except BaseException:
        outputs.discard()
        raise
    outputs.commit()


@click.command("preview")
@click.argument("recipients", type=click.Path(dir_okay=False, allow_dash=True, path_type=str))
@click.option(
    "--message",
    "-m",
    envvar="CAMPAIGNER_MESSAGE",
    show_envvar=True,
    help="Message text; {column} placeholders.",
)
@click.option(
    "--message-file",
    envvar="CAMPAIGNER_MESSAGE_FILE",
    show_envvar=True,
    type=click.Path(dir_okay=False),
    help="Read the message from this UTF-8 file (a final newline is dropped).",
)
@click.option(
    "--region",
    envvar="CAMPAIGNER_REGION",
    show_envvar=True,
    callback=check_region,
    help="Default region for national numbers (e.g. NL). Default: recipients.default_region.",
)
@click.option(
    "--phone-column", envvar="CAMPAIGNER_PHONE_COLUMN", show_envvar=True, help="Header of the phone column."
)
@click.option(
    "--encoding", envvar="CAMPAIGNER_ENCODING", show_envvar=True, help="CSV encoding (default UTF-8)."
)
@click.option(
    "--smart-encoding/--no-smart-encoding",
    envvar="CAMPAIGNER_SMART_ENCODING",
    show_envvar=True,
    default=False,
    help="Replace look-alike characters (curly quotes, long dashes, …) with GSM-7 ones.",
)
@click.option(
    "--strict/--no-strict",
    default=False,
    envvar="CAMPAIGNER_STRICT",
    show_envvar=True,
    help="A row that spans lines and looks like a stray quote merged the next recipients into it "
    "is an error (exit 2) instead of a warning.",
)
@click.option(
    "--empty-value",
    type=click.Choice(["reject", "empty"]),
    envvar="CAMPAIGNER_EMPTY_VALUE",
    show_envvar=True,
    help="A row whose placeholder column is empty. Default: recipients.empty_value.",
)
@footer_options
@click.option(
    "--valid-for",
    metavar="DURATION",
    help="Warn about what would expire if messages stay valid this long (30s, 6h, 1h30m). "
    "Default: [dispatcher] valid_for.",
)
@click.option("--valid-until", metavar="TIME", help="Warn about what would expire by this ISO 8601 time.")
@click.option(
    "--link",
    "links",
    multiple=True,
    metavar="NAME=URL",
    help="The URL {link:NAME} in the message shortens; it may hold {column} values of each row "
    "(percent-escaped), or be one {column} holding the whole URL. Repeatable.",
)
@format_option("table", "json")
@click.option(
    "--sendable-out", type=click.Path(dir_okay=False), help="Write the clean list (E.164 + columns) here."
)
@click.option(
    "--rejects-out", type=click.Path(dir_okay=False), help="Write every rejected row with its reason here."
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    envvar="CAMPAIGNER_WORKERS",
    show_envvar=True,
    help="Worker processes for phone parsing (0: none). Default: all CPUs for large files.",
)
@pass_app
def preview_command(
    app: AppContext,
    recipients: str,
    message: str | None,
    message_file: str | None,
    region: str | None,
    phone_column: str | None,
    encoding: str | None,
    smart_encoding: bool,
    strict: bool,
    empty_value: str | None,
    footer: str | None,
    no_footer: bool,
    valid_for: str | None,
    valid_until: str | None,
    links: tuple[str, ...],
    output_format: str,
    sendable_out: str | None,
    rejects_out: str | None,
    workers: int | None,
) -> None:
    """Show what sending MESSAGE to every row of RECIPIENTS would cost, without sending anything."""
    config = app.config
    one_stdin(recipients, message_file)
    text, source = read_message(message, message_file)
    chosen_footer = footer_choice(footer, no_footer)
    validity = validity_seconds(config, *parse_validity(valid_for, valid_until))
    with readable(recipients) as csv_path:
        options = PlanOptions(
            csv_path=csv_path,
            message=text,
            message_source=source,
            region=region,
            phone_column=phone_column,
            encoding=encoding,
            smart_encoding=smart_encoding,
            empty_value=empty_value,  # type: ignore[arg-type]  # click.Choice checked it
            workers=workers,
            strict=strict,
            footer=chosen_footer,
            valid_for_seconds=validity,
            links=parse_link_options(links),
        )
        with _outputs(sendable_out, rejects_out) as outputs:
            on_reject = outputs.rejected if outputs.rejects is not None else None
            # consent.require_opt_in: the preview counts the sendable numbers with no recorded
            # opt-in (no_consent), from the database's opt-in list (the only read preview makes).
            consented = _consented(config) if config.consent.require_opt_in else None
            planner = outputs.planner = Planner(config, options, on_reject=on_reject, consented=consented)
            if outputs.sendable is None:
                planner.run()  # the totals only: no message is built (10M rows in 300 MB)
            else:
                for batch in planner.batches():
                    outputs.planned(batch)
    result = planner.preview
    if capabilities_of(config.provider.type).prices_in_credits:
        result.credits, result.credits_note = asyncio.run(credits_of(config, result.by_country))
    from campaigner.cli.preview_table import preview_windows, render_preview

    windows = preview_windows(result, None, config.compliance)
    if output_format == "json":
        echo_json({**result.model_dump(mode="json"), "windows": [_window_json(w) for w in windows]})
    else:
        render_preview(result, windows=windows)


def _window_json(window: CountryWindow) -> dict[str, Any]:
    """A country's sending window in the preview's JSON (times ISO 8601)."""
    opens = window.opens_at.isoformat() if window.opens_at is not None else None
    return {**dataclasses.asdict(window), "opens_at": opens}


def _consented(config: Config) -> set[str]:
    """The numbers with a recorded opt-in (account-wide or for the configured sender)."""
    from campaigner.store.store import Store, run_with_store

    async def work(store: Store) -> set[str]:
        return await store.consented_numbers(config.provider.sender)

    return run_with_store(config, work)


async def credits_of(
    config: Config, by_country: list[CountryLine]
) -> tuple[dict[str, Any] | None, str | None]:
    """What an account charged in credits would be charged at least, from its coverage command
    (one read per country); or why that is not known (no API key: nothing is asked)."""
    if not os.environ.get(config.provider.api_key_env):
        return (
            None,
            f"credits not estimated: {config.provider.api_key_env} is not set (coverage is asked with it)",
        )
    provider = make_provider(config.provider)
    try:
        if not isinstance(provider, CoverageSource):
            return None, None
        estimate = await CreditPricer(provider).estimate({line.country: line.segments for line in by_country})
    finally:
        await provider.close()
    return estimate.as_json(), None


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(preview_command)
