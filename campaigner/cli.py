"""The `campaigner` command line: a click group; each command lives in `campaigner/commands/`.

This module only wires things together: it loads the config once, turns every `CampaignerError`
into one line on stderr with its exit code, and registers the commands.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from campaigner import __version__
from campaigner.config import CONFIG_ENV, Config, load_config
from campaigner.errors import CampaignerError


class AppContext:
    """What every command gets through `click.pass_obj`: the config, read once on first use."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


pass_app = click.make_pass_decorator(AppContext)


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
    from campaigner.commands import register_all

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
