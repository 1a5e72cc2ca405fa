"""The long-running service: carries campaigns, receives webhooks, reports health and metrics.

One daemon carries every campaign of its provider accounts (`[provider]` and each
`[accounts.NAME]`) that is `running` (or `scheduled` and due), each with its own CampaignRunner;
the campaigns of one account are all paced by that account's SharedThrottle, so that any number of
daemons on the same database hold each account's limits together. The accounts share the process's
worker (one heartbeat, one lease) and its database pool, whose size does not grow with them. It
wakes on a NOTIFY from the campaigns table, on its poll interval, or on a stop, whichever comes first.

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
import resource
import time

from aiohttp import web

from campaigner.app.connections import Limits, Listener
from campaigner.app.floods import FloodLog, quiet_loop_errors
from campaigner.app.logs import WORKER_ID, campaign_context
from campaigner.app.reply_sender import ReplySender, send_replies_forever
from campaigner.app.sd_notify import notify
from campaigner.app.signals import graceful_signals
from campaigner.app.wiring import RunWiring
from campaigner.config import Config, ProviderConfig
from campaigner.dispatch.campaign_watch import CampaignWatch
from campaigner.dispatch.result_batcher import ResultBatcher
from campaigner.dispatch.runner import CampaignRunner, RunReport
from campaigner.dispatch.schedule_batcher import ScheduleBatcher
from campaigner.dispatch.worker import Worker
from campaigner.errors import ConfigError, DatabaseError
from campaigner.heap import freeze_startup_objects
from campaigner.inbound.catch_up import catch_up_all
from campaigner.inbound.policy import InboundPolicy
from campaigner.inbound.poller import poll_once
from campaigner.inbound.replies import handle_inbound
from campaigner.model.provider import Balance, InboundEvent
from campaigner.model.states import CampaignState
from campaigner.providers.registry import capabilities_of
from campaigner.store.store import Store

log = logging.getLogger(__name__)

CAMPAIGNS_CHANNEL = "campaigner_campaigns"
# How often receipts that arrived before their job's result are matched again.
RECEIPTS_EVERY = 1.0
# A campaign whose runner failed (say, the database went away) is not restarted sooner than this.
RESTART_AFTER = 5.0
# A campaign that is not running but still has jobs in `sending` is settled this often at most.
SWEEP_EVERY = 30.0
# Jobs of one campaign asked about in one catch-up round.
CATCH_UP_BATCH = 100
# Seconds between the progress lines of each campaign that sends.
PROGRESS_EVERY = 30.0
# Job states whose message the provider took.
_SENT_STATES = ("submitted", "delivered", "undelivered")


class Daemon:
    """Carries campaigns until stopped; `burst=True` exits once nothing is left to carry.

    `owns_process=True` (the `campaigner daemon` command): the process is the daemon's alone, so
    once started it takes start-up's objects out of the garbage collector's walks (heap.py). Not
    where the daemon is a guest (tests): a freeze there would keep a host's objects for good.
    """

    def __init__(self, config: Config, *, burst: bool = False, owns_process: bool = False) -> None:
        self.config = config
        self.burst = burst
        self._owns_process = owns_process
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._runners: dict[int, tuple[CampaignRunner, asyncio.Task[RunReport]]] = {}
        self._failed_at: dict[int, float] = {}
        # Running campaigns of accounts this config does not have (other daemons'): a campaign's
        # account never changes, so each is looked up once, not every poll.
        self._not_ours: set[int] = set()
        self._swept_at: dict[int, float] = {}
        self._carried_since: dict[int, float] = {}
        self.reports: list[RunReport] = []
        self.port: int | None = None  # the HTTP port once listening (0 in config: any free one)
        self.admin_port: int | None = None  # the admin listener's port (/readyz, /metrics)
        self.api_port: int | None = None  # the dashboard and API's port (None: off)
        self.started = asyncio.Event()
        self._database_lost_at: float | None = None  # while the poll cannot reach the database

    def stop(self) -> None:
        """Stop taking work and shut down gracefully."""
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        """Run until stopped (or, in burst mode, until no campaign is left to carry)."""
        for name in self.config.account_names():  # a start-up error, not a 401 or 500 later
            check_webhook_secrets(self.config.for_account(name).provider)
        store = await Store.open(self.config)
        dispatcher = self.config.dispatcher
        worker = Worker(store, dispatcher.heartbeat_interval, dispatcher.worker_timeout)
        # Every account's reservations, and every campaign's results, in shared statements.
        schedule, results = ScheduleBatcher(store), ResultBatcher(store)
        watch = CampaignWatch(store)  # every carried campaign's state, of every account, in one poll
        accounts: dict[str, RunWiring] = {}
        try:
            for name in self.config.account_names():
                config = self.config.for_account(name)
                accounts[name] = RunWiring.build(store, config, worker, schedule, results, watch)
            with graceful_signals(self.stop):
                await self._serve(store, accounts)
        finally:
            await watch.close()
            await worker.stop()
            for wiring in accounts.values():
                await wiring.close()
            await store.close()

    async def _serve(self, store: Store, accounts: dict[str, RunWiring]) -> None:
        from campaigner.app.admin import build_admin_app
        from campaigner.app.http import build_http_app

        daemon = self.config.daemon
        floods = FloodLog(logging.getLogger("campaigner.app.http"))
        limits = Limits.of(daemon, _connection_budget(self.config))
        providers = {name: wiring.provider for name, wiring in accounts.items()}
        public = build_http_app(store, providers, self.config, floods=floods)
        admin = build_admin_app(store, self.config, ready=self._ready, floods=floods)
        with quiet_loop_errors(asyncio.get_running_loop(), floods):
            # Before anything is asked of the provider: a taken port is the commonest start-up error.
            listener = await _listen(public, daemon.host, daemon.port, limits, floods, "http", "host, port")
            try:
                admin_listener = await _listen(
                    admin,
                    daemon.admin_host,
                    daemon.admin_port,
                    limits,
                    floods,
                    "admin",
                    "admin_host, admin_port",
                )
            except BaseException:
                await listener.close()
                raise
            try:
                home = accounts[self.config.provider.account]  # the dashboard's balance is its
                web_listener = await self._listen_web(store, home, limits, floods)
            except BaseException:
                await admin_listener.close()
                await listener.close()
                raise
            try:
                await self._carry_while_listening(store, accounts, listener, admin_listener)
            finally:
                if web_listener is not None:
                    await web_listener.close()
                await admin_listener.close()
                await listener.close()
                floods.close()

    async def _listen_web(
        self, store: Store, wiring: RunWiring, limits: Limits, floods: FloodLog
    ) -> Listener | None:
        """The dashboard and HTTP API on api.host:api.port, when a token is configured."""
        from campaigner.app.logs import redact_secrets
        from campaigner.app.web.server import build_web_app

        api = self.config.api
        token = api.token()
        if token is None:
            log.info("dashboard and HTTP API off: no token in $%s (api.token_env)", api.token_env)
            return None
        redact_secrets(token.reveal())  # a log line that quotes a request never shows it

        async def balance() -> Balance | None:
            await wiring.throttle.acquire(0)  # one paced request, like every other
            return await wiring.provider.balance()

        app = build_web_app(store, self.config, token, balance=balance)
        web_listener = await _listen(app, api.host, api.port, limits, floods, "api", "api.host, api.port")
        self.api_port = web_listener.port
        log.info("dashboard and HTTP API on http://%s:%s/", api.host, web_listener.port)
        return web_listener

    async def _carry_while_listening(
        self, store: Store, accounts: dict[str, RunWiring], listener: Listener, admin: Listener
    ) -> None:
        # Every account's schedule and sender at once: a hundred accounts need not wait in turn.
        await asyncio.gather(*(wiring.preflight() for wiring in accounts.values()))
        for name, wiring in accounts.items():
            for note in wiring.receipt_notes():
                log.warning("%s", note if len(accounts) == 1 else f"account {name!r}: {note}")
        worker = next(iter(accounts.values())).worker
        await worker.start()
        worker_token = WORKER_ID.set(worker.id)  # every line from here on, and every task, names it
        self.port = listener.port
        self.admin_port = admin.port
        for name in accounts:
            log.info("%s", _start_line(self.config.for_account(name), worker.id))
        log.info(
            "daemon listening on %s:%s (admin %s:%s)",
            self.config.daemon.host,
            self.port,
            self.config.daemon.admin_host,
            self.admin_port,
        )
        side = [
            asyncio.create_task(self._housekeeping(store, list(accounts)), name="housekeeping"),
            asyncio.create_task(self._progress_lines(store), name="progress lines"),
        ]
        for name, wiring in accounts.items():
            of = "" if len(accounts) == 1 else f" of {name}"
            side += [
                asyncio.create_task(self._catch_up_receipts(store, wiring), name=f"receipt catch-up{of}"),
                asyncio.create_task(self._poll_inbound(store, wiring), name=f"inbound polling{of}"),
            ]
        repliers = [
            ReplySender(store, wiring.provider, wiring.throttle, wiring.config, worker.id)
            for wiring in accounts.values()
        ]
        interval = self.config.compliance.reply_poll_interval
        side.append(
            asyncio.create_task(send_replies_forever(store, repliers, interval), name="confirmation replies")
        )
        if self._owns_process:  # start-up is over; what it made stays (campaigner/heap.py)
            frozen = freeze_startup_objects()
            log.debug("%d start-up objects exempted from garbage collection", frozen)
        self.started.set()
        notify("READY=1", f"STATUS=listening on {self.config.daemon.host}:{self.port}")
        try:
            async with store.db.listening(CAMPAIGNS_CHANNEL, lambda _payload: self._wake.set()):
                await self._carry(store, accounts, side)
        finally:
            notify("STOPPING=1")
            await self._shutdown()
            for task in side:
                task.cancel()
            await asyncio.gather(*side, return_exceptions=True)
            WORKER_ID.reset(worker_token)

    async def _ready(self) -> bool:
        return not self._stop.is_set()

    async def _carry(
        self, store: Store, accounts: dict[str, RunWiring], side: list[asyncio.Task[None]]
    ) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            for task in side:
                if task.done():
                    raise RuntimeError(f"daemon task {task.get_name()} stopped: {task.exception()!r}")
            self._collect_finished()
            try:
                await self._take_work(store, accounts)
            except DatabaseError as exc:
                self._database_lost(exc)
            else:
                self._database_back()
            if self.burst and not self._runners:
                log.info("burst mode: nothing left to carry")
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.dispatcher.poll_interval)

    async def _take_work(self, store: Store, accounts: dict[str, RunWiring]) -> None:
        """Start due scheduled campaigns, and a runner for every running campaign of our accounts."""
        for campaign_id in await store.due_scheduled_campaigns():
            with contextlib.suppress(Exception):  # another daemon may have started it first
                await store.set_campaign_state(campaign_id, CampaignState.RUNNING)
        for campaign_id in await store.running_campaign_ids():
            if campaign_id in self._runners or campaign_id in self._not_ours:
                continue
            if time.monotonic() - self._failed_at.get(campaign_id, float("-inf")) < RESTART_AFTER:
                continue
            campaign = await store.get_campaign(campaign_id)
            if campaign.provider_account not in accounts:
                self._not_ours.add(campaign_id)
                continue
            self._start_runner(accounts[campaign.provider_account], campaign_id)
        # Jobs a cancel or pause caught in `sending` (or a runner that died) are settled whatever
        # the campaign's state: a runner of a campaign that is not running only reconciles.
        for campaign_id, account in await store.unsettled_campaigns(list(accounts)):
            if campaign_id in self._runners:
                continue
            if time.monotonic() - self._swept_at.get(campaign_id, float("-inf")) < SWEEP_EVERY:
                continue
            self._swept_at[campaign_id] = time.monotonic()
            self._start_runner(accounts[account], campaign_id)

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
        # The runner and every task it starts log with this campaign's id (app/logs.py).
        context = campaign_context(campaign_id)
        task = asyncio.create_task(runner.run(), name=f"campaign {campaign_id}", context=context)
        task.add_done_callback(lambda _task: self._wake.set())
        self._runners[campaign_id] = (runner, task)
        self._carried_since[campaign_id] = time.monotonic()
        log.info("carrying campaign %s", campaign_id, extra={"campaign_id": campaign_id})

    def _collect_finished(self) -> None:
        for campaign_id, (_runner, task) in list(self._runners.items()):
            if not task.done():
                continue
            del self._runners[campaign_id]
            began = self._carried_since.pop(campaign_id, time.monotonic())
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
            summary = _summary_line(report, time.monotonic() - began)
            log.info("%s", summary, extra={"campaign_id": campaign_id})

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

    async def _housekeeping(self, store: Store, accounts: list[str]) -> None:
        """Every second: receipts that arrived before their job's result, and the jobs-per-state gauges."""
        from campaigner import metrics
        from campaigner.inbound.receipts import apply_pending_receipts

        shown: set[int] = set()
        while True:
            await asyncio.sleep(RECEIPTS_EVERY)
            try:
                for account in await store.accounts_with_parked_receipts(accounts):
                    await apply_pending_receipts(store, account)
                carried = set(self._runners)
                # One statement for every carried campaign (job-counts-many), not one each.
                for campaign_id, counts in (await store.job_counts_many(sorted(carried))).items():
                    metrics.set_campaign_jobs(campaign_id, counts)
                for campaign_id in shown - carried:
                    metrics.forget_campaign(campaign_id)
                shown = carried
            except Exception as exc:  # the database may be down for a moment; try again next round
                log.warning("daemon housekeeping failed: %s", exc)

    async def _progress_lines(self, store: Store) -> None:
        """Every PROGRESS_EVERY seconds, a line for each carried campaign that has sent or has
        messages left to send: how far it is and how fast it went since the last line."""
        sent_before: dict[int, int] = {}
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            try:
                for campaign_id, counts in (await store.job_counts_many(sorted(self._runners))).items():
                    sent = sum(counts.get(state, 0) for state in _SENT_STATES)
                    waiting = counts.get("pending", 0) + counts.get("sending", 0)
                    previous = sent_before.get(campaign_id)
                    sent_before[campaign_id] = sent
                    if waiting == 0 and previous in (None, sent):
                        continue  # only settling, or done: the summary line says the rest
                    line = f"campaign {campaign_id}: {sent} of {sum(counts.values())} sent, {waiting} to send"
                    if previous is not None:  # a first line has no interval to measure a rate over
                        rate = (sent - previous) / PROGRESS_EVERY
                        line += f", {rate:.1f}/s over the last {PROGRESS_EVERY:g} s"
                    log.info("%s", line, extra={"campaign_id": campaign_id})
                for campaign_id in set(sent_before) - set(self._runners):
                    del sent_before[campaign_id]
            except Exception as exc:  # the database may be down for a moment; try again next round
                log.warning("progress lines failed: %s", exc)

    async def _catch_up_receipts(self, store: Store, wiring: RunWiring) -> None:
        """Every receipt_catch_up_every seconds: ask about jobs waiting too long for a receipt."""
        if not wiring.provider.capabilities.fetches_receipts:
            await asyncio.Event().wait()  # nothing to ask; a side task that ends stops the daemon
        daemon = self.config.daemon
        while True:
            await asyncio.sleep(daemon.receipt_catch_up_every)
            try:
                for campaign_id in await store.campaigns_awaiting_receipts(wiring.config.provider.account):
                    await catch_up_all(
                        store,
                        wiring.provider,
                        campaign_id,
                        older_than=daemon.receipt_catch_up_after,
                        batch=CATCH_UP_BATCH,
                        pace=lambda: wiring.throttle.acquire(0),
                        policy=InboundPolicy.from_config(wiring.config),
                    )
            except Exception as exc:  # the database may be down for a moment; try again next round
                log.warning("receipt catch-up failed: %s", exc)

    async def _poll_inbound(self, store: Store, wiring: RunWiring) -> None:
        """Every provider.inbound_poll_interval seconds: the replies of a provider that is polled."""
        interval = wiring.config.provider.inbound_poll_interval
        if not wiring.provider.capabilities.polls_inbound or interval <= 0:
            await asyncio.Event().wait()  # nothing to poll; a side task that ends stops the daemon
        account = wiring.config.provider.account
        policy = InboundPolicy.from_config(wiring.config).for_lookups()

        async def apply(event: InboundEvent) -> str:
            return next(iter(await handle_inbound(store, [event], policy)))

        while True:
            try:
                await poll_once(
                    store,
                    wiring.provider,
                    account,
                    apply,
                    lambda: wiring.throttle.acquire(0),
                )
            except Exception as exc:  # the provider or the database may be away; next round
                log.warning("polling inbound replies failed: %s", exc)
            await asyncio.sleep(interval)


def _start_line(config: Config, worker_id: str) -> str:
    """The daemon's first line: what runs, for which provider account, within which limits."""
    from importlib.metadata import version

    provider = config.provider
    return (
        f"campaigner {version('campaigner')} daemon started as worker {worker_id}: provider {provider.type}, "
        f"account {provider.account!r}, limits {provider.requests_per_minute:g} requests per "
        f"{provider.request_window:g} s, {provider.messages_per_second:g} "
        f"{'segments' if provider.rate_counts_segments else 'messages'}/s, "
        f"{provider.recipients_per_request} recipient(s) a request"
    )


def _summary_line(report: RunReport, seconds: float) -> str:
    """The line a campaign's runner ends with."""
    line = (
        f"campaign {report.campaign_id}: {report.state} after {seconds:.0f} s: {report.accepted} accepted, "
        f"{report.rejected} rejected, {report.retried} retried, {report.throttled} throttled, "
        f"in {report.requests} request(s)"
    )
    if report.reconciled:
        line += ", reconciled " + ", ".join(f"{k} {v}" for k, v in sorted(report.reconciled.items()))
    if report.voided:
        line += f", {report.voided} claimed before a heartbeat lapse not sent"
    return line + (f" ({report.reason})" if report.reason else "")


async def _listen(
    app: web.Application, host: str, port: int, limits: Limits, floods: FloodLog, name: str, keys: str
) -> Listener:
    try:
        return await Listener.start(app, host, port, limits, floods, name)
    except OSError as exc:  # in use, an address not of this machine, a name that does not resolve
        where = keys if keys.startswith("api.") else f"daemon.{keys}"
        raise ConfigError(f"daemon: cannot listen on {host}:{port} ({where}): {exc}") from None


# Descriptors kept for everything but HTTP connections: the database pool, the provider's
# connections, the NOTIFY listener, logs and the listening sockets themselves, with room to spare.
_RESERVED_FDS = 64


def _connection_budget(config: Config) -> int:
    """daemon.max_connections, lowered if the two listeners could otherwise take the descriptors the
    database pool and the provider need (systemd gives a service 1,024)."""
    wanted = config.daemon.max_connections
    try:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return wanted
    if soft == resource.RLIM_INFINITY:
        return wanted
    others = _RESERVED_FDS + config.database.pool_max_size + 2 * config.dispatcher.concurrency
    budget = max(8, (soft - others) // 2)
    if wanted > budget:
        log.warning(
            "daemon.max_connections %d lowered to %d per listener: the process may open %d files",
            wanted,
            budget,
            soft,
        )
        return budget
    return wanted


def check_webhook_secrets(provider: ProviderConfig) -> None:
    """The secrets the account's callbacks are authenticated with are set; ConfigError otherwise.

    Signed callbacks (Cliqtel) need the signing secret; unsigned ones (Clickatell) at least one of
    the callback token and the Basic-auth password, each set where the config names it.
    """
    if capabilities_of(provider.type).signed_webhooks:
        provider.webhook_secret()
        return
    problems = []
    for secret in (provider.callback_token, provider.callback_password):
        try:
            if secret() is not None:
                return
        except ConfigError as exc:
            problems.append(str(exc))
    raise ConfigError(
        "no way to authenticate the provider's callbacks: set the variable named by "
        "provider.callback_token_env (the ?token= of the callback URL), or provider.callback_username "
        "and callback_password_env" + (f" ({'; '.join(problems)})" if problems else "")
    )
