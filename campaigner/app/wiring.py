"""The run wiring: the concrete parts that carry campaigns of one provider account, built once.

`campaigner run`, `send`, `retry`, `demo` and the daemon all build their run here, so a foreground
run and a daemon pace, check and identify themselves the same way:

    wiring = RunWiring.build(store, config)
    try:
        await wiring.preflight(on_slow=print)     # the account's schedule, then the sender
        await wiring.worker.start()
        report = await wiring.runner(campaign_id).run()
    finally:
        await wiring.close()
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from campaigner.app.logs import redact_config_secrets
from campaigner.app.preflight import check_balance, check_sender
from campaigner.config import DEMO_ACCOUNT, Config
from campaigner.dispatch.campaign_watch import CampaignWatch
from campaigner.dispatch.fair_share import FairShare
from campaigner.dispatch.ports import ResultStore, ScheduleStore
from campaigner.dispatch.runner import CampaignRunner
from campaigner.dispatch.shared_throttle import SharedThrottle
from campaigner.dispatch.throttle import Limits
from campaigner.dispatch.worker import Worker
from campaigner.errors import StateError
from campaigner.model.campaigns import Campaign
from campaigner.model.states import CampaignState
from campaigner.providers.base import Provider
from campaigner.providers.registry import capabilities_of, make_provider
from campaigner.store.store import Store

T = TypeVar("T")

# A pre-flight wait longer than this is explained (through `on_slow`) rather than left silent.
SLOW_AFTER = 2.0


def status_callback_url(config: Config) -> str | None:
    """Where the provider should send delivery receipts: the daemon's public URL and the status
    route of the config's account (`Config.webhook_bases`), when both exist."""
    base = config.daemon.public_url.rstrip("/")
    if not base or "status" not in capabilities_of(config.provider.type).webhooks:
        return None
    return base + config.webhook_bases()[0] + "/status"


@dataclass
class RunWiring:
    """A provider client, this process's worker, and the account's shared throttle."""

    config: Config
    store: Store
    provider: Provider
    worker: Worker
    throttle: SharedThrottle
    # The account's rate shared among this process's campaigns ([dispatcher] fairness), and one
    # watcher of their state and opt-outs for all of them (two queries a poll, not two a campaign).
    share: FairShare
    watch: CampaignWatch

    owns_worker: bool = True
    owns_watch: bool = True
    results: ResultStore | None = None

    @classmethod
    def build(
        cls,
        store: Store,
        config: Config,
        worker: Worker | None = None,
        schedule: ScheduleStore | None = None,
        results: ResultStore | None = None,
        watch: CampaignWatch | None = None,
    ) -> RunWiring:
        """Build the parts; nothing touches the network or the database yet. The secrets they
        use are registered with the log redaction first, so no log line can show them.

        When the process carries several accounts (the daemon), `worker` is its worker, which it
        starts and stops itself, once; `schedule` its ScheduleBatcher, which reserves the start
        times of every account's requests together; `results` its ResultBatcher, which writes
        the results of every campaign together; and `watch` its one CampaignWatch, which it
        closes itself."""
        redact_config_secrets(config)
        provider = make_provider(config.provider, status_callback_url=status_callback_url(config))
        owns_worker = worker is None
        if worker is None:
            worker = Worker(store, config.dispatcher.heartbeat_interval, config.dispatcher.worker_timeout)
        # Shared through the database: other processes on this account, and the run a crash or a
        # kill ended a moment ago, count against the same windows as this one.
        throttle = SharedThrottle(Limits.of(config.provider), schedule or store, config.provider.account)
        share = FairShare(throttle, config.dispatcher.fairness)
        owns_watch = watch is None
        watch = watch or CampaignWatch(store)
        return cls(config, store, provider, worker, throttle, share, watch, owns_worker, owns_watch, results)

    async def preflight(self, on_slow: Callable[[str], object] | None = None) -> None:
        """Wait for the account's rate schedule (reads count against the provider's request limit
        too), then check the sender. `on_slow` hears why, once, if the wait is long."""
        message = (
            "waiting for the account's rate schedule: requests of other or earlier runs on "
            f"{self.config.provider.account!r} still count against the provider's limits"
        )
        await _saying_if_slow(self.throttle.acquire(0), on_slow, message)
        await check_sender(self.provider, self.config.provider)

    async def check_balance(self, campaign_id: int, allow_partial: bool) -> str | None:
        """Refuse to start a campaign the balance does not cover (one paced read); a note when the
        balance cannot be known."""
        await self.throttle.acquire(0)
        return await check_balance(self.provider, self.store, campaign_id, allow_partial)

    def receipt_notes(self) -> list[str]:
        """Why delivery receipts will not be pushed to us, if they will not (they are then caught up
        by asking: the daemon's catch-up, or `campaigner sync`)."""
        provider = self.config.provider
        if provider.type == "cliqtel" and provider.use_portal_endpoint:
            return [
                "provider.use_portal_endpoint: the portal's send takes no status_callback_url, so no "
                "receipt is pushed; they are caught up by asking (daemon.receipt_catch_up_after, "
                "`campaigner sync`)"
            ]
        if status_callback_url(self.config) is None and self.provider.capabilities.callback_per_message:
            return [
                "no daemon.public_url: no receipt is pushed; they are caught up by asking "
                "(daemon.receipt_catch_up_after, `campaigner sync`)"
            ]
        return []

    def runner(self, campaign_id: int) -> CampaignRunner:
        """A runner for one campaign over these parts."""
        return CampaignRunner(
            self.store,
            self.provider,
            self.throttle,
            self.config,
            campaign_id,
            self.worker,
            share=self.share,
            watch=self.watch,
            results=self.results,
        )

    async def close(self) -> None:
        """End the watcher and unregister the worker (when they are this wiring's own), and close
        the provider's HTTP session."""
        if self.owns_watch:
            await self.watch.close()
        if self.owns_worker:
            await self.worker.stop()
        await self.provider.close()


async def _saying_if_slow(
    awaitable: Awaitable[T], on_slow: Callable[[str], object] | None, message: str
) -> T:
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=SLOW_AFTER)
    if not done and on_slow is not None:
        on_slow(message)
    return await task


def campaign_config(campaign: Campaign, config: Config) -> Config:
    """The config as the campaign's provider account sees it ([provider] or its [accounts.NAME]).

    A campaign is only carried through its own account: it was planned, priced and rate-booked for
    it. One of an account this config does not have (a demo campaign: the demo's sandbox) is a
    StateError.
    """
    if campaign.provider_account in config.account_names():
        return config.for_account(campaign.provider_account)
    demo = campaign.provider_account == DEMO_ACCOUNT
    what = " (made by `campaigner demo`, sent only by it)" if demo else ""
    raise StateError(
        f"campaign {campaign.id} belongs to provider account {campaign.provider_account!r}{what}, "
        f"which the config does not have (accounts: {', '.join(config.account_names())}); "
        "it is not sent through another one"
    )


def ensure_own_account(campaign: Campaign, config: Config) -> None:
    """StateError unless the config has the campaign's provider account (see campaign_config)."""
    campaign_config(campaign, config)


async def start_running(store: Store, campaign_id: int, *, reopen: bool = False) -> None:
    """Make the campaign `running`: from draft, paused or (once due) scheduled; from completed or
    failed only when `reopen` (a retry put jobs back). Anything else is a StateError."""
    campaign = await store.get_campaign(campaign_id)
    state = campaign.state
    if state == CampaignState.RUNNING:
        return
    if state == CampaignState.SCHEDULED or (
        reopen and state in (CampaignState.COMPLETED, CampaignState.FAILED)
    ):
        await store.set_campaign_state(campaign_id, CampaignState.RUNNING)
        return
    if state in (CampaignState.COMPLETED, CampaignState.CANCELLED, CampaignState.FAILED):
        raise StateError(f"campaign {campaign_id} is {state}; nothing to run")
    await store.resume_campaign(campaign_id)
