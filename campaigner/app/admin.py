"""The daemon's admin surface: readiness and metrics, for the operator, not for the provider.

    app = build_admin_app(store, config, ready=daemon_is_ready)   # on daemon.admin_host:admin_port

Routes:
    GET /healthz    200 while the process serves HTTP
    GET /readyz     200 when the database answers, no migration is pending and `ready()` says so;
                    else 503 with the reasons. The answer is kept for READY_CACHE seconds and
                    concurrent requests share one check, so polling it costs the dispatcher's pool
                    at most one check a second; it never names the database's host, port or name.
    GET /metrics    Prometheus text format (campaigner.metrics.REGISTRY)

It is served on its own listener (loopback by default) because readiness costs database work and
the metrics name accounts and volumes: neither is for whoever can reach the webhooks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from campaigner import metrics
from campaigner.app.connections import anonymous
from campaigner.app.floods import FloodLog
from campaigner.config import Config
from campaigner.errors import CampaignerError
from campaigner.store import migrations
from campaigner.store.store import Store

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], Awaitable[bool]]

# /readyz gives the database this long to answer.
READY_TIMEOUT = 5.0
# An answer of /readyz is reused for this long.
READY_CACHE = 1.0


class Readiness:
    """The daemon's readiness, checked at most once per READY_CACHE seconds however often asked."""

    def __init__(self, store: Store, ready: ReadyCheck | None, floods: FloodLog) -> None:
        self._store = store
        self._ready = ready
        self._floods = floods
        self._answer: tuple[float, list[str]] | None = None
        self._lock = asyncio.Lock()
        self.checks = 0  # database checks made (tests read it)

    async def reasons(self) -> list[str]:
        """Why the daemon is not ready (empty: ready)."""
        async with self._lock:  # one check at a time; the others wait for its answer
            now = time.monotonic()
            if self._answer is not None and now - self._answer[0] < READY_CACHE:
                reasons = list(self._answer[1])
            else:
                reasons = await self._check_database()
                self._answer = (time.monotonic(), reasons)
        # The daemon's own state is a flag, not a query: always fresh (a SIGTERM shows at once).
        if self._ready is not None and not await self._ready():
            reasons.append("daemon not ready (starting or shutting down)")
        return reasons

    async def _check_database(self) -> list[str]:
        self.checks += 1
        try:
            status = await asyncio.wait_for(migrations.status(self._store.db), READY_TIMEOUT)
        except TimeoutError:
            self._floods.event("readyz:timeout", logging.WARNING, "/readyz: the database did not answer")
            return ["database unavailable"]
        except CampaignerError as exc:
            # The details are for the log; the answer says no more than "unavailable".
            self._floods.event("readyz:down", logging.WARNING, "/readyz: database unavailable: %s", exc)
            return ["database unavailable"]
        if status.pending:
            return ["migrations pending: " + ", ".join(f"{m.version:04d}_{m.name}" for m in status.pending)]
        return []


READINESS: web.AppKey[Readiness] = web.AppKey("campaigner_readiness", Readiness)


def build_admin_app(
    store: Store, config: Config, *, ready: ReadyCheck | None = None, floods: FloodLog | None = None
) -> web.Application:
    """The admin application; nothing is started here (serve it with a Listener)."""
    metrics.set_account(config.provider.account)
    app = anonymous(web.Application(client_max_size=1024))
    app[READINESS] = Readiness(store, ready, floods or FloodLog(log))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_route)
    return app


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: the process is up and serving."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """GET /readyz: database reachable, migrations current, and the daemon's own condition."""
    reasons = await request.app[READINESS].reasons()
    if reasons:
        return web.json_response({"status": "not ready", "reasons": reasons}, status=503)
    return web.json_response({"status": "ready"})


async def metrics_route(request: web.Request) -> web.Response:
    """GET /metrics: every campaigner metric in Prometheus text format."""
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
