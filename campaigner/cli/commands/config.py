"""`campaigner config ...`: the example config, a starter file, a check, and the systemd unit."""

from __future__ import annotations

import os
import sys
import tomllib
from importlib import resources
from pathlib import Path

import click

from campaigner.cli.context import AppContext, pass_app
from campaigner.config import Config, config_from_mapping, example_config_text, load_config
from campaigner.config_env import ConfigProblems, apply_env_overrides
from campaigner.errors import ConfigError, UserError

STARTER_PROVIDERS = ("cliqtel", "clickatell")
DEFAULT_STARTER = "campaigner.toml"
# Where the shipped unit runs campaigner from; `config systemd` puts this installation's path there.
SHIPPED_EXEC = "/opt/campaigner/.venv/bin/campaigner"


def _shipped(name: str) -> str:
    return (resources.files("campaigner.cli") / "starters" / name).read_text(encoding="utf-8")


@click.group("config")
def config_group() -> None:
    """The configuration file."""


@config_group.command("example")
def example_command() -> None:
    """Print config.example.toml: every setting, commented, with its default.

    Start a config of your own with `campaigner config example > campaigner.toml`.
    """
    click.echo(example_config_text(), nl=False)


@config_group.command("init")
@click.option(
    "--provider", type=click.Choice(STARTER_PROVIDERS), required=True, help="The provider account."
)
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@click.argument("file", default=DEFAULT_STARTER, type=click.Path(dir_okay=False, allow_dash=True))
def init_command(provider: str, force: bool, file: str) -> None:
    """Write a commented starter config for PROVIDER to FILE (`-`: standard output).

    Only the settings that account needs are in it; `campaigner config example` lists them all.
    """
    text = _shipped(f"{provider}.toml")
    if file == "-":
        click.echo(text, nl=False)
        return
    target = Path(file)
    if target.exists() and not force:
        raise UserError(f"{target}: already exists; nothing written (--force overwrites it)")
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{target}: cannot write the config ({exc.strerror})") from None
    starter = config_from_mapping(tomllib.loads(text), str(target))
    click.echo(
        f"wrote {target} for a {provider} account: set provider.sender, and the secrets in "
        f"{starter.provider.api_key_env} and {starter.provider.webhook_secret_env}; then "
        f"`campaigner config check {target}`"
    )


@config_group.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@pass_app
def check_command(app: AppContext, file: str | None) -> None:
    """Validate FILE (default: --config or CAMPAIGNER_CONFIG; `-`: standard input) with the
    CAMPAIGNER_<SECTION>__<KEY> variables over it, and report every mistake at once.

    Exits 0 when the config is usable, 2 when it is not (one line per mistake). Secrets the config
    names but the environment does not hold are noted, not errors: a `preview` needs none.
    """
    chosen = file or app.config_path
    try:
        config = _read_stdin() if chosen == "-" else load_config(chosen)
    except ConfigProblems as exc:
        for problem in exc.problems:
            click.echo(f"{exc.source}: {problem}", err=True)
        count = len(exc.problems)
        raise UserError(f"{count} mistake{'s' if count != 1 else ''}; nothing was changed") from None
    source = config.source
    for note in _missing_secrets(config):
        click.echo(f"note: {note}", err=True)
    database = "its own PostgreSQL" if config.database_url() else "the embedded PostgreSQL"
    accounts = [config.for_account(name).provider for name in config.account_names()]
    named = ", ".join(f"{account.type} account {account.account!r}" for account in accounts)
    click.echo(f"{source}: ok ({named}, {database})")


def _read_stdin() -> Config:
    try:
        raw = tomllib.loads(sys.stdin.read())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"<stdin>: not valid TOML ({exc})") from None
    raw, origins = apply_env_overrides(raw, Config, os.environ)
    return config_from_mapping(raw, "<stdin>", origins=origins)


def _missing_secrets(config: Config) -> list[str]:
    """The variables named by the config that hold no value in this environment."""
    wanted = {}
    for name in config.account_names():
        provider = config.for_account(name).provider
        section = f"accounts.{name}" if name in config.accounts else "provider"
        wanted[f"{section}.api_key_env"] = provider.api_key_env
        if provider.webhook_signing_key == "webhook_secret":
            wanted[f"{section}.webhook_secret_env"] = provider.webhook_secret_env
        if provider.type == "clicksend":
            wanted[f"{section}.username_env"] = provider.username_env
        if provider.callback_password_env:
            wanted[f"{section}.callback_password_env"] = provider.callback_password_env
    return [
        f"{variable} is not set here (named by {key}); the daemon and sends need it"
        for key, variable in wanted.items()
        if not os.environ.get(variable)
    ]


@config_group.command("systemd")
@click.option(
    "--exec",
    "executable",
    type=click.Path(dir_okay=False),
    help="The campaigner to run (default: this installation's).",
)
def systemd_command(executable: str | None) -> None:
    """Print a systemd unit for `campaigner daemon` (Type=notify, StateDirectory=, KillMode=mixed).

    Install it with `campaigner config systemd | sudo tee /etc/systemd/system/campaigner.service`.
    """
    unit = _shipped("campaigner.service")
    chosen = executable or _this_installation()
    click.echo(unit.replace(SHIPPED_EXEC, chosen) if chosen else unit, nl=False)


def _this_installation() -> str | None:
    """The `campaigner` script next to this interpreter (a virtualenv's bin/), if there is one."""
    script = Path(sys.executable).parent / "campaigner"
    return str(script.absolute()) if script.is_file() else None


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(config_group)
