"""The opt-out footer options, `--footer TEXT` and `--no-footer`, of `preview`, `create` and `send`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def footer_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--footer TEXT` and `--no-footer`: the campaign's opt-out footer (shared with `preview`)."""
    command = click.option(
        "--no-footer", is_flag=True, default=False, help="Send no opt-out footer, whatever the config says."
    )(command)
    return click.option(
        "--footer",
        metavar="TEXT",
        help='Opt-out footer on a line of its own after every message, e.g. "Reply STOP to opt out". '
        "Default: [compliance] opt_out_footer.",
    )(command)


def footer_choice(footer: str | None, no_footer: bool) -> str | None:
    """The footer the options ask for: None (the config's), "" (none) or the text; a UsageError
    for both options at once or a footer a message cannot carry."""
    if no_footer:
        if footer is not None:
            raise click.UsageError("--footer and --no-footer say opposite things: give one of them")
        return ""
    if footer is None:
        return None
    if any(ord(c) < 32 and c != "\n" for c in footer):
        raise click.BadParameter(
            "must not contain control characters (a line break is allowed)", param_hint="--footer"
        )
    if not footer.strip():
        raise click.BadParameter("is empty: to send no footer, say --no-footer", param_hint="--footer")
    return footer.strip()
