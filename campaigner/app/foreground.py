"""Running one campaign in the foreground: `campaigner send`, `run`, `retry` and `demo` share this.

Before anything is sent it checks what can be checked (the sender belongs to the account, the balance
covers the estimate), then carries the campaign with a `CampaignRunner` and shows progress from the
job table. SIGINT/SIGTERM stop it gracefully (a second one at once); the campaign stays resumable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

from rich.console import Console

from campaigner.app.signals import graceful_signals
from campaigner.cli.progress import ProgressReporter
from campaigner.config import Config
from campaigner.dispatch.runner import CampaignRunner, RunReport
from campaigner.dispatch.shared_throttle import SharedThrottle
from campaigner.dispatch.throttle import Limits
from campaigner.dispatch.worker import Worker
from campaigner.errors import CampaignStopped, StateError, UserError
from campaigner.planning.pricing import format_money
from campaigner.providers import check_sender, make_provider
from campaigner.providers.base import Provider
from campaigner.store.store import Store

T = TypeVar("T")

log = logging.getLogger(__name__)

STATUS_WEBHOOK_PATH = "/webhooks/cliqtel/status"


def status_callback_url(config: Config) -> str | None:
    """Where the provider should send delivery receipts: the daemon's public URL, if configured."""
    base = config.daemon.public_url.rstrip("/")
    return base + STATUS_WEBHOOK_PATH if base else None


async def check_balance(provider: Provider, store: Store, campaign_id: int, allow_partial: bool) -> None:
    """Refuse to start when the estimate of what is left to send is above the account's balance."""
    balance = await provider.balance()
    if balance is None:
        return
    campaign = await store.get_campaign(campaign_id)
    left = Decimal(campaign.estimated_cost) - await store.cost_so_far(campaign_id)
    if Decimal(repr(balance.amount)) < left and not allow_partial:
        raise UserError(
            f"campaign {campaign_id} needs about {format_money(float(left), campaign.currency)} but the "
            f"balance is {format_money(balance.amount, balance.currency)}; top up, or pass --allow-partial "
            "to send until it runs out (the campaign then pauses)"
        )


async def _saying_if_slow(awaitable: Awaitable[T], console: Console, message: str, after: float = 2.0) -> T:
    """Await `awaitable`; print `message` once if that takes more than `after` seconds."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=after)
    if not done:
        console.print(message, highlight=False)
    return await task


async def _wait_until_due(store: Store, campaign_id: int, console: Console) -> None:
    campaign = await store.get_campaign(campaign_id)
    if campaign.state != "scheduled" or campaign.send_at is None:
        return
    delay = (campaign.send_at - datetime.now(UTC)).total_seconds()
    if delay > 0:
        console.print(f"campaign {campaign_id} is scheduled for {campaign.send_at.isoformat()}; waiting")
        await asyncio.sleep(delay)


async def start_running(store: Store, campaign_id: int, *, reopen: bool = False) -> None:
    """Make the campaign `running`: from draft, paused or (once due) scheduled; from completed or
    failed only when `reopen` (a retry put jobs back). Anything else is a StateError."""
    campaign = await store.get_campaign(campaign_id)
    if campaign.state == "running":
        return
    if campaign.state == "scheduled" or (reopen and campaign.state in ("completed", "failed")):
        await store.set_campaign_state(campaign_id, "running")
        return
    if campaign.state in ("completed", "cancelled", "failed"):
        raise StateError(f"campaign {campaign_id} is {campaign.state}; nothing to run")
    await store.resume_campaign(campaign_id)


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
    if campaign.state in ("completed", "cancelled", "failed") and not reopen:
        raise StateError(f"campaign {campaign_id} is {campaign.state}; nothing to run")
    provider = make_provider(config.provider, status_callback_url=status_callback_url(config))
    worker = Worker(store, config.dispatcher.heartbeat_interval, config.dispatcher.worker_timeout)
    # Shared through the database: other processes on this account, and the run a crash or a kill
    # ended a moment ago, count against the same windows as this one.
    throttle = SharedThrottle(Limits.of(config.provider), store, config.provider.account)
    try:
        # Reads count against the provider's request limit too. The schedule may be well ahead (the
        # requests of a run killed a moment ago, other processes on the account): say so.
        await _saying_if_slow(
            throttle.acquire(0),
            console,
            "waiting for the account's rate schedule: requests of other or earlier runs on "
            f"{config.provider.account!r} still count against the provider's limits",
        )
        await check_sender(provider, config.provider)
        await throttle.acquire(0)
        await check_balance(provider, store, campaign_id, allow_partial)
        await _wait_until_due(store, campaign_id, console)
        await start_running(store, campaign_id, reopen=reopen)
        campaign = await store.get_campaign(campaign_id)
        await worker.start()
        runner = CampaignRunner(store, provider, throttle, config, campaign_id, worker)
        reporter = ProgressReporter(
            lambda: store.job_totals(campaign_id), campaign.total_jobs, campaign.currency, console
        )
        with graceful_signals(runner.stop, announce=console.print):
            showing = asyncio.create_task(reporter.run())
            try:
                report = await runner.run()
            finally:
                reporter.stop()
                await showing
    finally:
        await worker.stop()
        await provider.close()
    if report.state == "paused":
        raise CampaignStopped(f"campaign {campaign_id} paused: {report.reason or 'by hand'}")
    if report.state == "running":
        raise CampaignStopped(
            f"campaign {campaign_id} stopped by a signal; `campaigner run {campaign_id}` continues it"
        )
    return report
