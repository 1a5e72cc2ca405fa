"""The options that say what a new campaign is made of, shared by `create` and `send`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click

from campaigner.app.loading import CampaignSource
from campaigner.cli.commands.preview import read_message
from campaigner.cli.regions import check_region
from campaigner.errors import UserError

# A --send-at this little in the past (typed a moment ago) still means "now".
SEND_AT_PAST_GRACE = timedelta(minutes=5)


def parse_send_at(value: str | None) -> datetime | None:
    """ISO 8601 → aware datetime (no offset: local time)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(
            f"--send-at: {value!r} is not an ISO 8601 time (e.g. 2026-05-01T09:00+02:00)"
        ) from None
    try:
        # In UTC, as it is stored: a time near year 1 or 9999 may not exist there (9999-12-31T23:00
        # at -05:00 is in year 10000), which Python and PostgreSQL would each refuse their own way.
        parsed = parsed if parsed.tzinfo else parsed.astimezone()
        parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise UserError(f"--send-at: {value!r} is out of range (years 1 to 9999, in UTC)") from None
    if parsed < datetime.now(UTC) - SEND_AT_PAST_GRACE:
        # Most likely a typo (a year, a month): a scheduled campaign would start at once.
        raise UserError(f"--send-at: {value!r} is in the past; leave it out to send now")
    return parsed


def parse_quiet_hours(value: str | None) -> tuple[time | None, time | None]:
    """'09:00-21:00' → (09:00, 21:00): the local-time window in which recipients may be messaged."""
    if value is None:
        return None, None
    try:
        start_text, end_text = value.split("-")
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError:
        raise UserError(f"--quiet-hours: {value!r} is not HH:MM-HH:MM") from None
    if start == end:
        raise UserError(f"--quiet-hours: {value!r} is an empty window: nothing could ever be sent")
    return start, end


def campaign_source_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say what a new campaign is made of (shared by `create` and `send`)."""
    options = [
        click.argument("recipients", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path)),
        click.option("--message", "-m", envvar="CAMPAIGNER_MESSAGE", show_envvar=True, help="Message text."),
        click.option("--message-file", type=click.Path(dir_okay=False), help="Read the message from a file."),
        click.option("--name", help="Campaign name. Default: the CSV file's name."),
        click.option(
            "--region",
            envvar="CAMPAIGNER_REGION",
            show_envvar=True,
            callback=check_region,
            help="Region of national numbers.",
        ),
        click.option("--phone-column", envvar="CAMPAIGNER_PHONE_COLUMN", show_envvar=True),
        click.option("--encoding", envvar="CAMPAIGNER_ENCODING", show_envvar=True, help="CSV encoding."),
        click.option(
            "--smart-encoding/--no-smart-encoding", default=False, envvar="CAMPAIGNER_SMART_ENCODING"
        ),
        click.option(
            "--strict/--no-strict",
            default=False,
            envvar="CAMPAIGNER_STRICT",
            show_envvar=True,
            help="A row that spans lines and looks like a stray quote merged the next recipients into "
            "it is an error (exit 2) instead of a warning in the preview.",
        ),
        click.option(
            "--send-at",
            help="Schedule: ISO 8601 time (the campaign waits until then); without an offset, this "
            "machine's local time.",
        ),
        click.option(
            "--quiet-hours", help="Send only between these recipient-local times, e.g. 09:00-21:00."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def source_from_options(**options: Any) -> CampaignSource:
    """A CampaignSource from the values of `campaign_source_options`."""
    text, source = read_message(options["message"], options["message_file"])
    quiet_start, quiet_end = parse_quiet_hours(options["quiet_hours"])
    return CampaignSource(
        recipients=options["recipients"],
        message=text,
        message_source=source,
        name=options["name"],
        region=options["region"],
        phone_column=options["phone_column"],
        encoding=options["encoding"],
        smart_encoding=options["smart_encoding"],
        send_at=parse_send_at(options["send_at"]),
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        strict=options["strict"],
    )
