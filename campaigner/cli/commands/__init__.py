"""The CLI commands, one module per group of commands; `register_all` adds them to the group.

`MODULES` says which commands each module adds, so that `campaigner NAME` imports only NAME's
modules (see campaigner.cli.main): `campaigner preview` then does not import the store, the daemon
or the web server (about 10 MB of the preview's memory, in a budget of 300 MB at 10M rows).
"""

from __future__ import annotations

import importlib

import click

# Module → the top-level commands it adds (or extends: embedded adds to the db group), in the
# order modules register. One line per module, so parallel work does not collide.
MODULES: dict[str, tuple[str, ...]] = {
    "preview": ("preview",),
    "numbers": ("numbers",),
    "segments": ("segments",),
    "sandbox": ("sandbox",),
    "db": ("db",),
    "embedded": ("db",),
    "campaigns": ("campaigns", "cancel", "create", "delete", "export", "pause", "resume"),
    "suppress": ("suppress",),
    "send": ("retry", "run", "send"),
    "daemon": ("daemon",),
    "demo": ("demo",),
    "config": ("config",),
    "sync": ("sync",),
    "status": ("status",),
    "report": ("report",),
    "purge": ("purge",),
}


def register_module(group: click.Group, module: str) -> None:
    """Add the commands of one module of this package to `group`."""
    importlib.import_module(f"{__name__}.{module}").register(group)


def register_all(group: click.Group) -> None:
    """Add every command to `group`."""
    for module in MODULES:
        register_module(group, module)
