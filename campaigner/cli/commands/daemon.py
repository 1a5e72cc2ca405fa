"""`campaigner daemon`: the long-running service (see campaigner/app/daemon.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import click

from campaigner.cli.context import AppContext, pass_app
from campaigner.errors import ConfigError


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
    with asyncio.Runner(loop_factory=loop_factory(app.config.daemon.event_loop)) as runner:
        runner.run(Daemon(app.config, burst=burst, owns_process=True).run())


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop `daemon.event_loop` asks for: uvloop's when "uvloop", or "auto" and it is
    installed; None (asyncio's default) otherwise. One daemon carrying a hundred accounts spends
    much of its CPU in the loop itself (timers, transports), which uvloop runs in C."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError(
                "daemon.event_loop = \"uvloop\" but uvloop is not installed "
                "(pip install 'campaigner[fast]', or set it to \"auto\")"
            ) from None
        return None
    return uvloop.new_event_loop


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(daemon_command)
