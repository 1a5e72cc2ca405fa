"""The CLI commands, one module per group of commands; `register_all` adds them to the group."""

from __future__ import annotations

import click


def register_all(group: click.Group) -> None:
    """Add every command to `group`. One line per module, so parallel work does not collide."""
    from campaigner.cli.commands import preview

    preview.register(group)
    from campaigner.cli.commands import numbers

    numbers.register(group)
    from campaigner.cli.commands import segments

    segments.register(group)
    from campaigner.cli.commands import sandbox

    sandbox.register(group)
    from campaigner.cli.commands import db

    db.register(group)
    from campaigner.cli.commands import embedded

    embedded.register(group)
    from campaigner.cli.commands import campaigns

    campaigns.register(group)
    from campaigner.cli.commands import suppress

    suppress.register(group)
    from campaigner.cli.commands import send

    send.register(group)
    from campaigner.cli.commands import daemon

    daemon.register(group)
    from campaigner.cli.commands import demo

    demo.register(group)
    from campaigner.cli.commands import config

    config.register(group)
    from campaigner.cli.commands import sync

    sync.register(group)
    from campaigner.cli.commands import status

    status.register(group)
    from campaigner.cli.commands import report

    report.register(group)
    from campaigner.cli.commands import purge

    purge.register(group)
