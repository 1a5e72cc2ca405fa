"""`campaigner status ID [--watch]`: what a campaign is doing, who carries it and why it waits.

The figures are `campaigner.observe.facts`' (the dashboard and `GET /api/campaigns/{id}` show the
same): the rate is recent, the ETA comes from it and the provider's limits and is absent while
nothing sends. `--watch` refreshes until the campaign ends or Ctrl-C: a rich panel on a terminal,
one line an interval elsewhere (a log, a pipe, CI).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from campaigner.cli.context import AppContext, pass_app
from campaigner.cli.formats import echo_json, format_option
from campaigner.cli.safe import CAMPAIGN_ID
from campaigner.cli.status_view import status_lines, watch_line, watch_panel
from campaigner.config import Config
from campaigner.model.states import CampaignState
from campaigner.observe.facts import CampaignFacts, campaign_facts
from campaigner.store.store import Store, run_with_store

# A watched campaign in one of these has ended: the watch stops.
ENDED = frozenset({CampaignState.COMPLETED, CampaignState.CANCELLED, CampaignState.FAILED})


async def _reported(store: Store, campaign_id: int) -> dict[str, Any]:
    costs = await store.reported_costs(campaign_id)
    return {
        "messages": costs.messages,
        "cost": float(costs.reported),
        "estimated_cost": float(costs.estimated),
        "more_segments_than_estimated": costs.more_segments,
    }


@click.command("status")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@format_option("table", "json")
@click.option(
    "--reported",
    is_flag=True,
    help="Also what the provider reported (segments, cost) beside the estimate: reads every job.",
)
@click.option("--watch", is_flag=True, help="Refresh until the campaign ends or Ctrl-C.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.2),
    default=2.0,
    help="Seconds between refreshes with --watch.",
)
@pass_app
def status_command(
    app: AppContext, campaign_id: int, output_format: str, reported: bool, watch: bool, interval: float
) -> None:
    """Counts per job state, who carries it, why it waits, the recent rate and ETA, cost, message,
    sender, region, schedule and quiet hours, and the last errors."""
    config = app.config
    if watch:
        _watch(config, campaign_id, interval, output_format)
        return

    async def read(store: Store) -> tuple[CampaignFacts, dict[str, Any] | None]:
        facts = await campaign_facts(store, config, campaign_id)
        return facts, await _reported(store, campaign_id) if reported else None

    facts, figures = run_with_store(config, read)
    if output_format == "json":
        # The provider's own figures (--reported) need a scan of every job: only on request.
        echo_json({**facts.to_json(), "reported": figures})
        return
    for line in status_lines(facts, figures):
        click.echo(line)


def _watch(config: Config, campaign_id: int, interval: float, output_format: str) -> None:
    """Refresh the facts every `interval` s until the campaign ends; Ctrl-C stops only the watch."""
    on_terminal = sys.stdout.isatty() and output_format == "table"
    last: list[CampaignFacts] = []

    async def loop(store: Store) -> None:
        from rich.console import Console
        from rich.live import Live

        if not on_terminal:
            while True:
                facts = await campaign_facts(store, config, campaign_id)
                last[:] = [facts]
                if output_format == "json":
                    echo_json(facts.live.to_json() | {"timeline": None})
                else:
                    click.echo(watch_line(facts.live))
                if facts.live.state in ENDED:
                    return
                await asyncio.sleep(interval)
        facts = await campaign_facts(store, config, campaign_id)
        last[:] = [facts]
        with Live(watch_panel(facts), console=Console(), auto_refresh=False) as view:
            while facts.live.state not in ENDED:
                await asyncio.sleep(interval)
                facts = await campaign_facts(store, config, campaign_id)
                last[:] = [facts]
                view.update(watch_panel(facts), refresh=True)

    try:
        run_with_store(config, loop)
    except KeyboardInterrupt:
        state = f"it is {last[0].live.state}" if last else "nothing was read"
        click.echo(f"stopped watching campaign {campaign_id} ({state}; watching changes nothing)", err=True)


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(status_command)
