"""`campaigner daemon`: the long-running service (see campaigner/app/daemon.py)."""

from __future__ import annotations

import asyncio

import click

from campaigner.cli.context import AppContext, pass_app


@click.command("daemon")
@click.option(
    "--burst",
    is_flag=True,
    envvar="CAMPAIGNER_BURST",
    show_envvar=True,
    help="Exit once no campaign is left to carry (for cron and tests).",
)
@click.option(
    "--log-level",
    default="INFO",
    envvar="CAMPAIGNER_LOG_LEVEL",
    show_envvar=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@pass_app
def daemon_command(app: AppContext, burst: bool, log_level: str) -> None:
    """Carry every running campaign, receive delivery receipts and STOP replies, serve health and metrics.

    Runs until SIGTERM or SIGINT (a second one stops at once). Several daemons on one database share
    the provider account's limits.
    """
    from campaigner.app.daemon import Daemon
    from campaigner.app.logs import setup_logging

    setup_logging(log_level.upper())
    asyncio.run(Daemon(app.config, burst=burst).run())


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(daemon_command)
