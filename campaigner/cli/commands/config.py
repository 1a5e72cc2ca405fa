"""`campaigner config example`: the annotated example config that ships inside the package."""

from __future__ import annotations

import click

from campaigner.config import example_config_text


@click.group("config")
def config_group() -> None:
    """The configuration file."""


@config_group.command("example")
def example_command() -> None:
    """Print config.example.toml: every setting, commented, with its default.

    Start a config of your own with `campaigner config example > campaigner.toml`.
    """
    click.echo(example_config_text(), nl=False)


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(config_group)
