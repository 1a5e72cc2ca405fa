"""`campaigner numbers`: the sender numbers of the configured provider account."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, fields

import click
from rich.console import Console
from rich.table import Table

from campaigner.cli.context import AppContext, pass_app
from campaigner.cli.formats import echo_csv, echo_json, format_option
from campaigner.config import ProviderConfig
from campaigner.errors import ProviderError
from campaigner.model.provider import SenderNumber
from campaigner.providers.registry import make_provider


async def fetch_numbers(config: ProviderConfig) -> list[SenderNumber]:
    """The account's numbers, from the provider named by `config` (ProviderError when it cannot list them)."""
    provider = make_provider(config)
    try:
        if not provider.capabilities.lists_numbers:
            raise ProviderError(f"{config.type}: its API cannot list an account's numbers")
        return await provider.numbers()
    finally:
        await provider.close()


@click.command("numbers")
@format_option("table", "json", "csv", name="output")
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    envvar="CAMPAIGNER_NUMBERS_ALL",
    show_envvar=True,
    help="Also list numbers that cannot send SMS (ClickSend lists every dedicated number).",
)
@pass_app
def numbers(app: AppContext, output: str, show_all: bool) -> None:
    """List the SMS-capable sender numbers of the configured provider account."""
    config = app.config.provider
    found = asyncio.run(fetch_numbers(config))
    if not show_all:
        found = [number for number in found if number.sms_enabled]
    if output == "json":
        echo_json([asdict(number) for number in found])
        return
    if output == "csv":
        header = [f.name for f in fields(SenderNumber)]
        echo_csv(header, ([getattr(number, name) for name in header] for number in found))
        return
    console = Console(markup=False)  # numbers' names come from the provider
    if not found:
        console.print(f"no SMS-capable numbers on this {config.type} account")
        return
    table = Table(title=f"{config.type} numbers")
    for column in ("id", "number", "country", "sms"):
        table.add_column(column)
    for number in found:
        mark = "yes" if number.sms_enabled else "no"
        marker = " (sender)" if number.number == config.sender else ""
        table.add_row(number.id, number.number + marker, number.country or "", mark)
    console.print(table)


def register(group: click.Group) -> None:
    """Add `numbers` to `group`."""
    group.add_command(numbers)
