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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option(
    "--config",
    "config_path",
    envvar=CONFIG_ENV,
    show_envvar=True,
    type=click.Path(dir_okay=False),
    help="TOML config file (`campaigner config example` prints every setting).",
)
@click.version_option(__version__, prog_name="campaigner")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Bulk SMS campaigns, sent exactly once, as fast as the provider allows and never faster."""
    ctx.obj = AppContext(config_path)


def _register_commands() -> None:
    # Imported here, not at the top, so that `campaigner --help` stays fast and a broken optional
    # command cannot hide the others' import errors.
    from campaigner.cli.commands import register_all

    register_all(cli)


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
