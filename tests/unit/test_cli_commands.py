"""The command line imports a command's module only when that command is asked for."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click

from campaigner.cli.commands import MODULES


def test_each_module_adds_the_commands_the_table_names() -> None:
    # The table is how `campaigner NAME` finds NAME's module: a new command must be in it.
    for module, names in MODULES.items():
        group = click.Group()
        if module == "embedded":  # it adds its commands to db's group, not to the top level
            continue
        importlib.import_module(f"campaigner.cli.commands.{module}").register(group)
        assert sorted(group.commands) == sorted(names), module


def test_the_preview_imports_neither_the_store_nor_the_daemon() -> None:
    code = (
        "import sys, click; from campaigner.cli.main import cli; "
        "cli.get_command(click.Context(cli), 'preview'); "
        "print(sorted(m for m in ('campaigner.store.store', 'campaigner.app.daemon', 'asyncpg') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_command_takes_config_and_account_after_its_name_once() -> None:
    from campaigner.cli.main import cli

    context = click.Context(cli)
    for name in cli.list_commands(context):
        command = cli.get_command(context, name)
        assert command is not None
        commands = [command, *(command.commands.values() if isinstance(command, click.Group) else ())]
        for each in commands:
            options = [opt for p in each.params for opt in getattr(p, "opts", [])]
            assert options.count("--config") == 1, (name, each.name)
            assert options.count("--account") == 1, (name, each.name)
