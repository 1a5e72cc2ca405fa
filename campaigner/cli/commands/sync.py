"""`campaigner sync CAMPAIGN_ID`: ask the provider about every message still waiting for a receipt.

The daemon does this on its own for jobs waiting longer than `daemon.receipt_catch_up_after`; this
command does it now, for one campaign, and prints what it settled. Requests are paced by the
account's shared schedule, like every other request of the account.
"""

from __future__ import annotations

from collections import Counter

import click

from campaigner.app.wiring import RunWiring, campaign_config
from campaigner.cli.context import AppContext, pass_app
from campaigner.errors import UserError
from campaigner.inbound.catch_up import catch_up_all
from campaigner.inbound.policy import InboundPolicy
from campaigner.store.store import Store, run_with_store

# Jobs asked about per round; rounds go on until a round settles nothing more.
ROUND = 200


@click.command("sync")
@click.argument("campaign_id", type=int)
@click.option(
    "--older-than",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Only jobs waiting at least this many seconds for their receipt.",
)
@pass_app
def sync_command(app: AppContext, campaign_id: int, older_than: float) -> None:
    """Look up every message of CAMPAIGN_ID still waiting for a delivery receipt, and apply what
    the provider says (delivered, undelivered); print what it settled."""
    async def work(store: Store) -> Counter[str]:
        campaign = await store.get_campaign(campaign_id)  # an unknown id is the error, not an empty sync
        config = campaign_config(campaign, app.config)  # asked of the campaign's own account
        wiring = RunWiring.build(store, config)
        if not wiring.provider.capabilities.fetches_receipts:
            await wiring.provider.close()
            raise UserError(f"provider {config.provider.type} cannot be asked about a message's status")
        try:
            # What is left after it is still in flight, unknown, or unreadable now.
            return await catch_up_all(
                store, wiring.provider, campaign_id, older_than=older_than, batch=ROUND,
                pace=lambda: wiring.throttle.acquire(0), policy=InboundPolicy.from_config(config),
            )  # fmt: skip
        finally:
            await wiring.provider.close()

    total = run_with_store(app.config, work)
    asked = sum(total.values())
    shown = ", ".join(f"{name.replace('_', ' ')} {n:,}" for name, n in sorted(total.items()))
    click.echo(f"campaign {campaign_id}: {asked:,} messages looked up" + (f": {shown}" if shown else ""))
    if total["failed"]:
        raise UserError("the provider could not answer every lookup; run sync again later")


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(sync_command)
