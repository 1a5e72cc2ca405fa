"""Running one campaign in the foreground: `campaigner send`, `run`, `retry` and `demo` share this.

The run is wired as the daemon's is (`campaigner.app.wiring`): the account's shared schedule and
the sender are checked, then the balance against the estimate, before anything is sent. It carries
the campaign with a `CampaignRunner` and shows progress from the job table. SIGINT/SIGTERM stop it
gracefully (a second one at once); the campaign stays resumable.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from rich.console import Console

from campaigner.app.logs import campaign_context
from campaigner.app.signals import graceful_signals
from campaigner.app.wiring import RunWiring, campaign_config, start_running
from campaigner.cli.progress import ProgressReporter
from campaigner.config import Config
from campaigner.dispatch.runner import RunReport
from campaigner.errors import CampaignStopped, StateError
from campaigner.model.states import ENDED_CAMPAIGN_STATES, SENT_STATES, CampaignState, JobState
from campaigner.store.store import Store


async def _wait_until_due(store: Store, campaign_id: int, console: Console) -> None:
    campaign = await store.get_campaign(campaign_id)
    if campaign.state != CampaignState.SCHEDULED or campaign.send_at is None:
        return
    delay = (campaign.send_at - datetime.now(UTC)).total_seconds()
    if delay > 0:
        console.print(f"campaign {campaign_id} is scheduled for {campaign.send_at.isoformat()}; waiting")
        await asyncio.sleep(delay)


async def run_in_foreground(
    store: Store,
    config: Config,
    campaign_id: int,
    *,
    allow_partial: bool = False,
    reopen: bool = False,
    console: Console | None = None,
) -> RunReport:
    """Carry `campaign_id` until it completes, pauses or a signal stops it; raise when it paused."""
    console = console or Console(stderr=True, markup=False)
    campaign = await store.get_campaign(campaign_id)  # an unknown id is the first error, not a missing key
    config = campaign_config(campaign, config)  # its own account's limits, sender and keys
    if campaign.state in ENDED_CAMPAIGN_STATES and not reopen:
        raise StateError(f"campaign {campaign_id} is {campaign.state}; nothing to run")
    wiring = RunWiring.build(store, config)
    try:
        # The schedule may be well ahead (the requests of a run killed a moment ago, other
        # processes on the account): the wiring says so through the console.
        await wiring.preflight(on_slow=lambda message: console.print(message, highlight=False))
        if note := await wiring.check_balance(campaign_id, allow_partial):
            console.print(f"warning: {note}", highlight=False)
        for note in wiring.receipt_notes():
            console.print(f"note: {note}", highlight=False)
        await _wait_until_due(store, campaign_id, console)
        await start_running(store, campaign_id, reopen=reopen)
        campaign = await store.get_campaign(campaign_id)
        await wiring.worker.start()
        runner = wiring.runner(campaign_id)
        reporter = ProgressReporter(
            lambda: store.job_totals(campaign_id), campaign.total_jobs, campaign.currency, console
        )
        with graceful_signals(runner.stop, announce=console.print):
            showing = asyncio.create_task(reporter.run())
            try:
                # In a task of its own, whose context names the campaign and worker on every line.
                context = campaign_context(campaign_id, wiring.worker.id)
                report = await asyncio.create_task(runner.run(), context=context)
            finally:
                reporter.stop()
                await showing
    finally:
        await wiring.close()
    if report.state == CampaignState.PAUSED:
        raise CampaignStopped(f"campaign {campaign_id} paused: {report.reason or 'by hand'}")
    if report.state == CampaignState.CANCELLED:
        counts = await store.job_counts(campaign_id)
        sent = sum(counts.get(state, 0) for state in SENT_STATES)
        raise CampaignStopped(
            f"campaign {campaign_id} was cancelled while it ran: {sent:,} messages were with the "
            f"provider, {counts.get(JobState.CANCELLED, 0):,} jobs cancelled"
            + (f", {counts[JobState.SENDING]:,} still unsure" if counts.get(JobState.SENDING) else "")
        )
    if report.state == CampaignState.RUNNING:
        raise CampaignStopped(
            f"campaign {campaign_id} stopped by a signal; `campaigner run {campaign_id}` continues it"
        )
    return report
