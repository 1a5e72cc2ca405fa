"""The `campaigner` command line: a click group; each command lives in `campaigner/cli/commands/`.

This module only wires things together: it loads the config once, turns every `CampaignerError`
into one line on stderr with its exit code, and registers the commands.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from campaigner import __version__
from campaigner.cli.context import AppContext
from campaigner.config import CONFIG_ENV
from campaigner.errors import CampaignerError

ACCOUNT_ENV = "CAMPAIGNER_ACCOUNT"


class _Commands(click.Group):
    """The command group, importing a command's module only when that command is asked for.

    `campaigner preview` imports the preview's modules and not the daemon's, the store's or the web
    server's (campaigner.cli.commands.MODULES says which module adds which command); listing the
    commands (`--help`) or a name no module claims imports them all, as before.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()
        self._given: set[int] = set()  # ids of the commands that have --config and --account

    def _load(self, modules: list[str]) -> None:
        from campaigner.cli.commands import register_module

        for module in modules:
            if module in self._loaded:
                continue
            self._loaded.add(module)
            register_module(self, module)
            # Every command takes --config and --account after its name too; each once.
            _config_after_subcommands(list(self.commands.values()), self._given)

    def load_all(self) -> None:
        """Import every command module (in their order: the same group as before lazy loading)."""
        from campaigner.cli.commands import MODULES

        self._load(list(MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from campaigner.cli.commands import MODULES

        if cmd_name not in self.commands:
            self._load([module for module, names in MODULES.items() if cmd_name in names])
        if cmd_name not in self.commands:
            self.load_all()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_all()
        return super().list_commands(ctx)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option(
    "--config",
    "config_path",
    envvar=CONFIG_ENV,
    show_envvar=True,
    type=click.Path(dir_okay=False),
    help="TOML config file (`campaigner config example` prints every setting).",
)
@click.option(
    "--account",
    envvar=ACCOUNT_ENV,
    show_envvar=True,
    metavar="NAME",
    help="Provider account ([accounts.NAME] in the config) of new campaigns; default: [provider].",
)
@click.version_option(__version__, prog_name="campaigner")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, account: str | None) -> None:
    """Bulk SMS campaigns, sent exactly once, as fast as the provider allows and never faster."""
    ctx.obj = AppContext(config_path, account)


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.find_object(AppContext).config_path = value  # type: ignore[union-attr]  # the group made it


def _set_account(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.find_object(AppContext).account = value  # type: ignore[union-attr]  # the group made it


def _config_after_subcommands(commands: list[click.Command], given: set[int]) -> None:
    """`--config FILE` and `--account NAME` after any subcommand too (`campaigner status 7 --config
    prod.toml`, `campaigner send list.csv --account acme`), as people type them; each means the
    same as before the subcommand, and wins over it. `given`: the commands that have them already
    (a module loaded later may add commands to an earlier one's group: embedded to db)."""
    for command in commands:
        if isinstance(command, click.Group):
            _config_after_subcommands(list(command.commands.values()), given)
        if id(command) in given:
            continue
        given.add(id(command))
        command.params.append(
            click.Option(
                ["--config"],
                type=click.Path(dir_okay=False),
                expose_value=False,
                is_eager=True,
                callback=_set_config,
                help="TOML config file (as `campaigner --config FILE ...`).",
            )
        )
        command.params.append(
            click.Option(
                ["--account"],
                metavar="NAME",
                expose_value=False,
                is_eager=True,
                callback=_set_account,
                help="Provider account (as `campaigner --account NAME ...`).",
            )
        )


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the console script: user errors are one line on stderr, never a traceback."""
    try:
        return cli.main(args=argv, prog_name="campaigner", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CampaignerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
