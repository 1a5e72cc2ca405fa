"""`campaigner demo`: the README's first command (see campaigner/cli/demo.py)."""

from __future__ import annotations

import asyncio

import click

from campaigner.cli.context import AppContext, pass_app


@click.command("demo")
@pass_app
def demo_command(app: AppContext) -> None:
    """Send the bundled example campaign through an in-process sandbox provider, end to end.

    Needs nothing configured: without a database URL it uses campaigner's embedded PostgreSQL.
    """
    from campaigner.cli.demo import run_demo

    asyncio.run(run_demo(app.config))


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(demo_command)
