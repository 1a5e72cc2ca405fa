"""The daemon's public HTTP surface, the one the provider reaches: webhooks and health.

    app = build_http_app(store, {account: provider, ...}, config)

Routes, for each provider account (`Config.webhook_bases`):
    POST /webhooks/<name>/status    delivery receipts   (<name> = the account's name; the [provider]
    POST /webhooks/<name>/inbound   inbound messages     section's also at /webhooks/<type>/..., as
                                                         before accounts had names; the routes its
                                                         client declares, others are 404;
                                                         Clickatell's also answer GET, as it may call)
    GET  /healthz                   200 while the process serves HTTP
    GET  {links.base_url path}/{code}  a short link's redirect (app/link_routes.py), when
                                    links.base_url is set

/readyz and /metrics are not here: they are on the admin listener (`app/admin.py`), which is on
loopback unless configured otherwise. Every request body is limited to `daemon.max_body_bytes`
(413). No request gets a traceback: an unexpected exception is logged with it and answered 500
`{"error": "internal error"}`; an unreachable database is 503 (the provider retries); errors are
JSON; no response names the server software.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from campaigner import metrics
from campaigner.app.connections import anonymous
from campaigner.app.floods import FloodLog
from campaigner.app.link_routes import LinkRedirects
from campaigner.app.webhook_routes import BODY_TIMEOUT, FLOODS, STORE, webhook_handlers
from campaigner.config import Config
from campaigner.errors import DatabaseError
from campaigner.inbound.policy import InboundPolicy
from campaigner.inbound.receipt_batcher import ReceiptBatcher
from campaigner.providers.base import Provider
from campaigner.store.store import Store

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_BODY: web.AppKey[int] = web.AppKey("campaigner_max_body", int)


def build_http_app(
    store: Store, providers: Mapping[str, Provider], config: Config, *, floods: FloodLog | None = None
) -> web.Application:
    """The application the providers reach: the webhooks of each account in `providers` (by
    name, each a client of that account); nothing is started here (serve it with a Listener)."""
    metrics.set_account(config.provider.account)
    max_body = config.daemon.max_body_bytes
    app = anonymous(web.Application(client_max_size=max_body, middlewares=[_errors, _body_limit]))
    app[STORE] = store
    app[MAX_BODY] = max_body
    app[BODY_TIMEOUT] = config.daemon.body_timeout
    app[FLOODS] = floods or FloodLog(logging.getLogger("campaigner.app.webhook_routes"))
    app.router.add_get("/healthz", healthz)
    receipts = ReceiptBatcher(store)  # every account's receipts in shared statements
    for account, provider in providers.items():
        policy = InboundPolicy.from_config(config.for_account(account))
        handlers = webhook_handlers(store, provider, policy, receipts)
        # The routes the account's client declares, and no others (ClickSend declares none).
        for base in config.webhook_bases(account):
            for kind in provider.capabilities.webhooks:
                for method in provider.capabilities.webhook_methods:
                    app.router.add_route(method, f"{base}/{kind}", handlers[kind])
    if config.links.base_url:
        LinkRedirects(store, config.links).install(app)  # last: a fixed route wins over {code}
    return app


def _webhook_kind(path: str) -> str | None:
    parts = path.strip("/").split("/")
    return parts[2] if len(parts) == 3 and parts[0] == "webhooks" else None


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """HTTP errors as JSON; the database down → 503; anything unexpected → 500, logged, no traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kind = _webhook_kind(request.path)
        if exc.status == 413 and kind is not None:
            metrics.webhook_event(kind, "too_large")
        headers = {
            k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")
        }
        return web.json_response({"error": exc.reason}, status=exc.status, headers=headers)
    except DatabaseError as exc:
        request.app[FLOODS].event(
            "database", logging.WARNING, "%s %s: database unavailable: %s", request.method, request.path, exc
        )
        return web.json_response({"error": "database unavailable; try again"}, status=503)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("%s %s: unexpected error", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)


@web.middleware
async def _body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a declared body over the limit before reading it (chunked bodies: client_max_size)."""
    limit = request.app[MAX_BODY]
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    return await handler(request)


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: the process is up and serving."""
    return web.json_response({"status": "ok"})
