"""What every command receives: `AppContext` (the config, read once) and its `pass_app` decorator.

Commands import this module, never `campaigner.cli.main`, which imports them.
"""

from __future__ import annotations

import click

from campaigner.config import Config, load_config


class AppContext:
    """What every command gets through `click.pass_obj`: the config, read once on first use, as
    the chosen provider account sees it."""

    def __init__(self, config_path: str | None, account: str | None = None) -> None:
        self.config_path = config_path
        # --account NAME: the provider account new campaigns are made for, and whose limits,
        # sender and suppressions a command uses (None: the config's default account).
        self.account = account
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            config = load_config(self.config_path)
            self._config = config.for_account(self.account) if self.account else config
        return self._config


pass_app = click.make_pass_decorator(AppContext)
