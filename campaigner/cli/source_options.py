"""The options that say what a new campaign is made of, shared by `create` and `send`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from campaigner.app.loading import CampaignSource
from campaigner.app.source_checks import parse_quiet_hours, parse_send_at, parse_validity
from campaigner.cli.commands.preview import read_message
from campaigner.cli.footer import footer_choice, footer_options
from campaigner.cli.regions import check_region
from campaigner.dispatch.fair_share import DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY
from campaigner.text.links import parse_link_options


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
            "--link",
            "links",
            multiple=True,
            metavar="NAME=URL",
            help="The URL {link:NAME} in the message shortens; it may hold {column} values of each "
            "row (percent-escaped), or be one {column} holding the whole URL. Repeatable.",
        ),
        click.option(
            "--send-at",
            help="Schedule: ISO 8601 time (the campaign waits until then); without an offset, this "
            "machine's local time.",
        ),
        click.option(
            "--quiet-hours",
            help="Send only between these recipient-local times, e.g. 09:00-21:00 (replaces the country "
            'table\'s hours under [compliance] quiet_hours = "country"; its days off still apply).',
        ),
        click.option(
            "--valid-for",
            metavar="DURATION",
            help="Messages not sent within this long of the start expire, e.g. 30s, 90m, 24h, 1h30m. "
            "Default: [dispatcher] valid_for.",
        ),
        click.option(
            "--valid-until",
            metavar="TIME",
            help="Messages not sent by this ISO 8601 time expire (no offset: this machine's local time).",
        ),
        click.option(
            "--priority",
            type=click.IntRange(MIN_PRIORITY, MAX_PRIORITY),
            default=DEFAULT_PRIORITY,
            show_default=True,
            envvar="CAMPAIGNER_PRIORITY",
            show_envvar=True,
            help="Its share of the account's rate beside the other running campaigns, in proportion "
            'to theirs, under [dispatcher] fairness = "priority" (1-100; 20 takes twice what 10 does).',
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return footer_options(command)


def source_from_options(**options: Any) -> CampaignSource:
    """A CampaignSource from the values of `campaign_source_options`."""
    text, source = read_message(options["message"], options["message_file"])
    quiet_start, quiet_end = parse_quiet_hours(options["quiet_hours"])
    send_at = parse_send_at(options["send_at"])
    valid_for, valid_until = parse_validity(options["valid_for"], options["valid_until"], send_at)
    return CampaignSource(
        recipients=options["recipients"],
        message=text,
        message_source=source,
        name=options["name"],
        region=options["region"],
        phone_column=options["phone_column"],
        encoding=options["encoding"],
        smart_encoding=options["smart_encoding"],
        send_at=send_at,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        strict=options["strict"],
        footer=footer_choice(options["footer"], options["no_footer"]),
        valid_for=valid_for,
        valid_until=valid_until,
        links=tuple(parse_link_options(options["links"]).items()),
        priority=options["priority"],
    )
