"""What every command receives: `AppContext` (the config, read once) and its `pass_app` decorator.

Commands import this module, never `campaigner.cli.main`, which imports them.
"""

from __future__ import annotations

import click

from campaigner.config import Config, load_config


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
