"""The long-running service: carries campaigns, receives webhooks, reports health and metrics.

One daemon carries every campaign of its provider account that is `running` (or `scheduled` and
due), each with its own CampaignRunner, all paced by one SharedThrottle, so that any number of
daemons on the same database hold the account's limits together. It wakes on a NOTIFY from the
campaigns table, on its poll interval, or on a stop, whichever comes first.

On SIGTERM it stops taking work, lets in-flight sends finish and be recorded within the grace
period, then cancels what is left (reconciliation covers it), closes the HTTP server and exits 0.
A side task that dies (heartbeat, HTTP server) stops the daemon rather than let it limp. The
database going away does not: the daemon keeps serving (/readyz answers 503, webhooks 503 so the
provider retries), its runners end and are restarted, and it carries on when the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiohttp import web

from campaigner.app.signals import graceful_signals
from campaigner.app.wiring import RunWiring
from campaigner.config import Config
from campaigner.dispatch.runner import CampaignRunner, RunReport
from campaigner.errors import ConfigError, DatabaseError
from campaigner.model.states import CampaignState
from campaigner.store.store import Store

log = logging.getLogger(__name__)

CAMPAIGNS_CHANNEL = "campaigner_campaigns"
# How often receipts that arrived before their job's result are matched again.
RECEIPTS_EVERY = 1.0
# A campaign whose runner failed (say, the database went away) is not restarted sooner than this.
RESTART_AFTER = 5.0


class Daemon:
    """Carries campaigns until stopped; `burst=True` exits once nothing is left to carry."""

    def __init__(self, config: Config, *, burst: bool = False) -> None:
        self.config = config
        self.burst = burst
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._runners: dict[int, tuple[CampaignRunner, asyncio.Task[RunReport]]] = {}
        self._failed_at: dict[int, float] = {}
        self.reports: list[RunReport] = []
        self.port: int | None = None  # the HTTP port once listening (0 in config: any free one)
        self.started = asyncio.Event()
        self._database_lost_at: float | None = None  # while the poll cannot reach the database

    def stop(self) -> None:
        """Stop taking work and shut down gracefully."""
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        """Run until stopped (or, in burst mode, until no campaign is left to carry)."""
        store = await Store.open(self.config)
        wiring = RunWiring.build(store, self.config)
        try:
            self.config.provider.webhook_secret()  # a missing secret is a start-up error, not a 500 later
            with graceful_signals(self.stop):
                await self._serve(store, wiring)
        finally:
            await wiring.close()
            await store.close()

    async def _serve(self, store: Store, wiring: RunWiring) -> None:
        from campaigner.app.http import build_http_app

        app = build_http_app(store, wiring.provider, self.config, ready=self._ready)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.config.daemon.host, self.config.daemon.port)
        try:
            # Before anything is asked of the provider: a taken port is the commonest start-up error.
            await site.start()
        except OSError as exc:  # in use, an address not of this machine, a name that does not resolve
            await runner.cleanup()
            where = f"{self.config.daemon.host}:{self.config.daemon.port}"
            raise ConfigError(f"daemon: cannot listen on {where} (daemon.host, daemon.port): {exc}") from None
        try:
            await wiring.preflight()
            await wiring.worker.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = _bound_port(runner)
        log.info(
            "daemon listening on %s:%s as worker %s", self.config.daemon.host, self.port, wiring.worker.id
        )
        side = [asyncio.create_task(self._housekeeping(store), name="housekeeping")]
        self.started.set()
        try:
            async with store.db.listening(CAMPAIGNS_CHANNEL, lambda _payload: self._wake.set()):
                await self._carry(store, wiring, side)
        finally:
            await self._shutdown()
            for task in side:
                task.cancel()
            await asyncio.gather(*side, return_exceptions=True)
            await runner.cleanup()

    async def _ready(self) -> bool:
        return not self._stop.is_set()

    async def _carry(self, store: Store, wiring: RunWiring, side: list[asyncio.Task[None]]) -> None:
        account = self.config.provider.account
        while not self._stop.is_set():
            self._wake.clear()
            for task in side:
                if task.done():
                    raise RuntimeError(f"daemon task {task.get_name()} stopped: {task.exception()!r}")
            self._collect_finished()
            try:
                await self._take_work(store, wiring, account)
            except DatabaseError as exc:
                self._database_lost(exc)
            else:
                self._database_back()
            if self.burst and not self._runners:
                log.info("burst mode: nothing left to carry")
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.dispatcher.poll_interval)

    async def _take_work(self, store: Store, wiring: RunWiring, account: str) -> None:
        """Start due scheduled campaigns, and a runner for every running campaign of our account."""
        for campaign_id in await store.due_scheduled_campaigns():
            with contextlib.suppress(Exception):  # another daemon may have started it first
                await store.set_campaign_state(campaign_id, CampaignState.RUNNING)
        for campaign_id in await store.running_campaign_ids():
            if campaign_id in self._runners:
                continue
            if time.monotonic() - self._failed_at.get(campaign_id, float("-inf")) < RESTART_AFTER:
                continue
            campaign = await store.get_campaign(campaign_id)
            if campaign.provider_account != account:
                continue
            self._start_runner(wiring, campaign_id)

    def _database_lost(self, error: DatabaseError) -> None:
        if self._database_lost_at is None:
            self._database_lost_at = time.monotonic()
            log.error("database unavailable, retrying every poll: %s", error)

    def _database_back(self) -> None:
        if self._database_lost_at is not None:
            log.warning("database back after %.0f s", time.monotonic() - self._database_lost_at)
            self._database_lost_at = None

    def _start_runner(self, wiring: RunWiring, campaign_id: int) -> None:
        runner = wiring.runner(campaign_id)
        task = asyncio.create_task(runner.run(), name=f"campaign {campaign_id}")
        task.add_done_callback(lambda _task: self._wake.set())
        self._runners[campaign_id] = (runner, task)
        log.info("carrying campaign %s", campaign_id, extra={"campaign_id": campaign_id})

    def _collect_finished(self) -> None:
        for campaign_id, (_runner, task) in list(self._runners.items()):
            if not task.done():
                continue
            del self._runners[campaign_id]
            if task.cancelled():
                continue
            error = task.exception()
            if error is not None:
                self._failed_at[campaign_id] = time.monotonic()
                log.error(
                    "campaign %s: runner failed: %r", campaign_id, error, extra={"campaign_id": campaign_id}
                )
                continue
            report = task.result()
            self.reports.append(report)
            log.info("campaign %s: %s", campaign_id, report.state, extra={"campaign_id": campaign_id})

    async def _shutdown(self) -> None:
        """Stop every runner; wait for in-flight work up to the grace period, then cancel."""
        if not self._runners:
            return
        for runner, _task in self._runners.values():
            runner.stop()
        tasks = [task for _runner, task in self._runners.values()]
        began = time.monotonic()
        done, pending = await asyncio.wait(tasks, timeout=self.config.daemon.grace_period)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._collect_finished()
        stopped = len(done) + len(pending)
        log.info(
            "stopped %d campaign%s in %.1f s (%d cancelled after the grace period)",
            stopped,
            "" if stopped == 1 else "s",
            time.monotonic() - began,
            len(pending),
        )

    async def _housekeeping(self, store: Store) -> None:
        """Every second: receipts that arrived before their job's result, and queue-depth gauges."""
        from campaigner import metrics
        from campaigner.inbound.receipts import apply_pending_receipts

        shown: set[int] = set()
        while True:
            await asyncio.sleep(RECEIPTS_EVERY)
            try:
                await apply_pending_receipts(store, self.config.provider.account)
                carried = set(self._runners)
                for campaign_id in carried:
                    counts = await store.job_counts(campaign_id)
                    metrics.set_queue_depth(campaign_id, counts.get("pending", 0))
                for campaign_id in shown - carried:
                    metrics.forget_campaign(campaign_id)
                shown = carried
            except Exception as exc:  # the database may be down for a moment; try again next round
                log.warning("daemon housekeeping failed: %s", exc)


def _bound_port(runner: web.AppRunner) -> int | None:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return None
