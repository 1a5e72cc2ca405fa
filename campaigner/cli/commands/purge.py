"""`campaigner purge --finished-before DATE`: retention for the job table.

Deletes the jobs of campaigns that ended (completed, cancelled, failed) before DATE; the campaigns
stay, with their totals, cost, timeline and per-country figures (all kept in counters, not
counted from jobs), and the consent ledger and suppression list are untouched. A purged campaign
cannot be retried. `campaigner export ID` first keeps a copy of its jobs.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import click

from campaigner.cli.confirm import confirm, need_a_terminal
from campaigner.cli.context import AppContext, pass_app
from campaigner.cli.safe import printable
from campaigner.store.purge import PurgeCandidate
from campaigner.store.store import Store, run_with_store

_AGE = re.compile(r"^(\d+)d$")


class PastTime(click.ParamType):
    """An ISO date or time (a date is midnight UTC; a time without offset is UTC), or an age
    such as `90d` (that many days before now)."""

    name = "DATE"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        if match := _AGE.match(text):
            return datetime.now(UTC) - timedelta(days=int(match.group(1)))
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is not a date (2026-09-01), a time (2026-09-01T12:00+02:00) or an age (90d)")
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if moment > datetime.now(UTC):
            self.fail(f"{text} is in the future: only campaigns that have ended can be purged")
        return moment


@click.command("purge")
@click.option(
    "--finished-before",
    "before",
    type=PastTime(),
    required=True,
    help="Campaigns that ended before this: 2026-09-01, an ISO time, or an age such as 90d.",
)
@click.option("--dry-run", is_flag=True, help="List what would be purged; change nothing.")
@click.option(
    "--batch",
    type=click.IntRange(1_000, 1_000_000),
    default=50_000,
    show_default=True,
    help="Jobs deleted per transaction.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask first.")
@pass_app
def purge_command(app: AppContext, before: datetime, dry_run: bool, batch: int, yes: bool) -> None:
    """Delete the jobs of campaigns that ended before --finished-before; keep the campaigns.

    Status, report and the dashboard still show a purged campaign's totals; its per-job rows
    (export) are gone. Cannot be undone.
    """
    if not yes and not dry_run:
        need_a_terminal("purge", "pass --yes")

    async def work(store: Store) -> None:
        unfinished = await store.unfinished_purges()
        candidates = await store.purgeable_campaigns(before)
        total = sum(c.jobs for c in candidates)
        for c in candidates:
            ended = c.finished_at.isoformat(timespec="seconds") if c.finished_at else "?"
            click.echo(f"campaign {c.id} {printable(c.name)!r}: {c.state} {ended}, {c.jobs:,} jobs")
        if not candidates and not unfinished:
            click.echo(f"nothing to purge: no campaign ended before {before.isoformat(timespec='seconds')}")
            return
        if dry_run:
            click.echo(
                f"would purge {total:,} jobs of {len(candidates)} campaigns (dry run: nothing changed)"
            )
            return
        kept = "nothing was purged"
        if (
            candidates
            and not yes
            and not confirm(
                f"Delete the {total:,} jobs of these {len(candidates)} campaigns? This cannot be undone",
                kept=kept,
            )
        ):
            click.echo(f"not purged: {kept}")
            return
        for c in unfinished:
            await _purge(store, c, batch, resumed=True)
        for c in candidates:
            if await store.mark_purged(c.id):
                await _purge(store, c, batch, resumed=False)
            else:
                click.echo(f"campaign {c.id}: no longer ended (restarted since it was listed); kept")

    run_with_store(app.config, work)


async def _purge(store: Store, campaign: PurgeCandidate, batch: int, *, resumed: bool) -> None:
    started = time.monotonic()
    gone = 0
    while deleted := await store.purge_jobs(campaign.id, batch):
        gone += deleted
    await store.finish_purge(campaign.id)
    what = "finished an interrupted purge of" if resumed else "purged"
    seconds = time.monotonic() - started
    click.echo(f"campaign {campaign.id}: {what} {gone:,} jobs in {seconds:.1f} s")


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(purge_command)
