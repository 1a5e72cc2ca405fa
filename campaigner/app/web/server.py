"""The dashboard and HTTP API application, served by the daemon on its own listener (`[api]`).

    token = config.api.token()                    # None: the dashboard and API are off
    app = build_web_app(store, config, token)     # serve it with a Listener on api.host:api.port

Routes: the API (`api.py`, documented at /api/openapi.json), the dashboard's pages (`pages.py`),
/login and /logout, and /static/ (the page's CSS and script, which reveal nothing). Everything else
needs the token: as a bearer token, or as the session cookie /login sets (then every POST also
needs the session's CSRF token). Without either: 401, and no page or error says anything about any
campaign. Errors are JSON under /api/ (`{"error": ..., "field": ...}`), a short page elsewhere; a
client's mistake is a 4xx, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from importlib import resources

from aiohttp import web

from campaigner.app.connections import anonymous
from campaigner.app.web import api, consent, idempotency, pages
from campaigner.app.web.auth import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Guard
from campaigner.app.web.balance import Ask, BalanceCache
from campaigner.app.web.idempotency import KeyProblem
from campaigner.app.web.openapi import openapi_route
from campaigner.app.web.state import BALANCE, CONFIG, DATABASE_URL, GUARD, STORE
from campaigner.app.web.uploads import FieldError
from campaigner.config import Config, Secret
from campaigner.errors import (
    CampaignerError,
    ConfigError,
    DatabaseError,
    NotFoundError,
    ProviderError,
    StateError,
)
from campaigner.store.store import Store

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATIC_DIR = resources.files("campaigner.app.web") / "static"

# Set on every answer: nothing is framed, sniffed, cached or sent on as a referrer (a
# /login?token=... must never leave in a Referer header), and the pages run only their own script.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def build_web_app(
    store: Store, config: Config, token: Secret, *, balance: Ask | None = None
) -> web.Application:
    """The dashboard and API application; nothing is started here. `balance`: how to ask the
    configured account's balance (the daemon's provider, paced), for the accounts page."""
    app = anonymous(
        web.Application(
            client_max_size=config.api.max_upload_bytes + 1024 * 1024,
            middlewares=[_headers, _errors, _signed_in],
        )
    )
    app[STORE] = store
    app[CONFIG] = config
    app[GUARD] = Guard(token, config.api.session_hours * 3600)
    app[DATABASE_URL] = store.db.url
    if balance is not None:
        app[BALANCE] = BalanceCache(balance)
    app.cleanup_ctx.append(lambda _app: idempotency.forgetting(store))
    app.router.add_get("/api/openapi.json", openapi_route)
    app.router.add_get("/api/campaigns", api.list_campaigns)
    app.router.add_post("/api/campaigns", api.create_campaign)
    app.router.add_get("/api/campaigns/{id}", api.get_campaign)
    app.router.add_get("/api/campaigns/{id}/timeline", api.get_timeline)
    app.router.add_get("/api/campaigns/{id}/jobs", api.get_jobs)
    for verb, route in (
        ("pause", api.pause),
        ("resume", api.resume),
        ("cancel", api.cancel),
        ("retry", api.retry),
    ):
        app.router.add_post(f"/api/campaigns/{{id}}/{verb}", route)
    app.router.add_post("/api/preview", api.preview)
    app.router.add_get("/api/suppressions/{number}", consent.get_suppression)
    app.router.add_get("/login", login)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    pages.add_routes(app)
    app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)  # type: ignore[arg-type]
    return app


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(_SECURITY_HEADERS)
        raise
    response.headers.update(_SECURITY_HEADERS)
    return response


def _error(request: web.Request, status: int, message: str, field: str | None = None) -> web.Response:
    if _is_api(request):
        return web.json_response({"error": message, "field": field}, status=status)
    return pages.error_page(request, status, message)


_STATUS_OF: tuple[tuple[type[CampaignerError], int], ...] = (
    (NotFoundError, 404),
    (StateError, 409),
    (ConfigError, 400),
    (ProviderError, 502),
)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as JSON (API) or a short page; a client's mistake is a 4xx naming the field."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(request, exc.status, exc.reason)
    except (FieldError, KeyProblem) as exc:
        return _error(request, exc.status, str(exc), getattr(exc, "field", None))
    except DatabaseError as exc:
        log.warning("%s %s: database unavailable: %s", request.method, request.path, exc)
        return _error(request, 503, "database unavailable; try again")
    except CampaignerError as exc:
        status = next((code for kind, code in _STATUS_OF if isinstance(exc, kind)), 400)
        return _error(request, status, str(exc))
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("%s %s: unexpected error", request.method, request.path)
        return _error(request, 500, "internal error")


@web.middleware
async def _signed_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The token as a bearer, or a valid session (with the CSRF token on a POST); else 401."""
    if request.path == "/login" or request.path.startswith("/static/"):
        return await handler(request)
    guard = request.app[GUARD]
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        if guard.bearer_ok(authorization):
            return await handler(request)
        return _unauthorized(request)
    nonce = guard.session_nonce(request.cookies.get(SESSION_COOKIE))
    if nonce is None:
        return _unauthorized(request)
    if request.method not in ("GET", "HEAD"):
        candidate = request.headers.get(CSRF_HEADER)
        if candidate is None and request.content_type == "application/x-www-form-urlencoded":
            candidate = str((await request.post()).get(CSRF_FIELD, ""))
        if not guard.csrf_ok(nonce, candidate):
            return _error(request, 403, "missing or wrong CSRF token: reload the page and try again")
    return await handler(request)


def _unauthorized(request: web.Request) -> web.Response:
    if _is_api(request):
        response = web.json_response(
            {"error": "authentication required: send Authorization: Bearer <token>", "field": None},
            status=401,
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="campaigner"'
        return response
    return pages.login_page(request, status=401)


async def login(request: web.Request) -> web.StreamResponse:
    """GET /login (the form, or ?token=… to sign in at once) and POST /login (the form's answer)."""
    guard = request.app[GUARD]
    if request.method == "POST":
        candidate = str((await request.post()).get("token", ""))
    else:
        candidate = request.query.get("token", "")
        if not candidate:
            return pages.login_page(request)
    if not guard.token_ok(candidate):
        return pages.login_page(request, status=401, failed=True)
    response = web.Response(status=303, headers={"Location": "/"})
    response.set_cookie(
        SESSION_COOKIE,
        guard.new_session(),
        max_age=int(guard.session_seconds),
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
    )
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout: forget this browser's session cookie."""
    response = web.Response(status=303, headers={"Location": "/login"})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response
