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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
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


def _register_commands() -> None:
    # Imported here, not at the top, so that `campaigner --help` stays fast and a broken optional
    # command cannot hide the others' import errors.
    from campaigner.cli.commands import register_all

    register_all(cli)
    _config_after_subcommands(cli)


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.find_object(AppContext).config_path = value  # type: ignore[union-attr]  # the group made it


def _set_account(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.find_object(AppContext).account = value  # type: ignore[union-attr]  # the group made it


def _config_after_subcommands(group: click.Group) -> None:
    """`--config FILE` and `--account NAME` after any subcommand too (`campaigner status 7 --config
    prod.toml`, `campaigner send list.csv --account acme`), as people type them; each means the
    same as before the subcommand, and wins over it."""
    for command in group.commands.values():
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
        if isinstance(command, click.Group):
            _config_after_subcommands(command)


_register_commands()


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
