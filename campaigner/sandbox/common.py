"""What every provider API of the sandbox shares: auth, the per-key request window, faults, JSON.

A route calls `admit(...)` first: it counts the request, checks the bearer key, spends one unit of
that key's rolling request window (a refused request spends nothing), checks the scope and draws
the before-processing faults. Anything wrong becomes an `ApiError`, which each API's middleware
renders in that API's own error envelope.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from campaigner.sandbox.faults import DropConnection, Fault, after_processing, before_processing
from campaigner.sandbox.state import SandboxState

STATE: web.AppKey[SandboxState] = web.AppKey("sandbox_state", SandboxState)


def dumps(value: Any) -> str:
    """Compact JSON as JavaScript's JSON.stringify writes it (so re-serialising verifiers agree)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response."""
    return web.Response(
        body=dumps(payload).encode(), status=status, headers=headers, content_type="application/json"
    )


@dataclass
class ApiError(Exception):
    """A refusal with an HTTP status, a provider error code and message; rendered per API."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] | None = None  # field errors of a validation_error


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One callback request the sandbox makes: `url` may carry user:password (sent as Basic auth)."""

    method: str
    url: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Admitted:
    """A request that passed auth, the request window and the scope check."""

    key: str
    now: float  # loop time the request was admitted at (for releasing its window slot)
    headers: dict[str, str]


def format_retry_after(seconds: float, fractional: bool) -> str:
    """Retry-After: whole seconds rounded up (at least 1), or the exact wait when `fractional`."""
    if fractional:
        return f"{max(seconds, 0.001):.3f}"
    return str(max(1, math.ceil(seconds)))


def bearer_key(request: web.Request, state: SandboxState) -> str | None:
    """The known API key the request carries as `Authorization: Bearer ...`, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    s = state.settings
    if token and token in (s.full_key, s.read_key, s.send_key):
        return token
    return None


def admit(
    request: web.Request,
    state: SandboxState,
    route: str,
    *,
    write: bool,
    unauthenticated: ApiError,
    forbidden: ApiError | None = None,
    rate_limited: ApiError,
    fault_errors: dict[Fault, ApiError],
) -> Admitted:
    """Let a request in or raise the ApiError (or drop the connection) that refuses it."""
    state.stats.requests += 1
    key = bearer_key(request, state)
    if key is None:
        state.reject("401")
        raise unauthenticated
    s = state.settings
    now = time.monotonic()
    headers: dict[str, str] = {}
    if write or s.limit_reads:
        window = state.request_window(key)
        decision = window.acquire(now)
        headers = {"X-RateLimit-Limit": str(window.limit), "X-RateLimit-Remaining": str(decision.remaining)}
        if not decision.allowed:
            state.reject("429_requests")
            retry = format_retry_after(decision.retry_after, s.retry_after_fractional)
            raise ApiError(
                429, rate_limited.code, rate_limited.message, headers={**headers, "Retry-After": retry}
            )
    if write and key not in (s.full_key, s.send_key):
        state.reject("403")
        assert forbidden is not None
        raise ApiError(forbidden.status, forbidden.code, forbidden.message, headers=headers)
    fault = before_processing(state, route)
    if fault is not None:
        state.stats.faults[fault.value] += 1
        state.reject(f"fault_{fault.value}")
        if fault is Fault.RESET:
            raise DropConnection(reset=True)
        error = fault_errors[fault]
        raise ApiError(error.status, error.code, error.message, headers=headers)
    return Admitted(key, now, headers)


def parse_since(value: str) -> float:
    """An ISO 8601 timestamp (or date) as Unix time; naive means UTC. Raises ValueError."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # A "+" in a query string that was not percent-encoded arrives as a space.
    if len(text) > 19 and text[-6] == " ":
        text = text[:-6] + "+" + text[-5:]
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


async def after_faults(state: SandboxState, route: str) -> None:
    """Faults after processing: the reply lost (DropConnection), a slow reply (sleeps), a 500 or a
    502 (the message is stored all the same)."""
    fault = after_processing(state, route)
    if fault is Fault.REPLY_LOST:
        state.stats.faults["reply_lost"] += 1
        raise DropConnection(reset=False)
    if fault is Fault.SLOW:
        state.stats.faults["slow"] += 1
        await asyncio.sleep(state.settings.slow_seconds)
    if fault is Fault.ERROR_500_AFTER:
        # Sandbox extension: a framework's bare server error, after the message was stored.
        state.stats.faults["500_after"] += 1
        raise web.HTTPInternalServerError(text='{"message": "Server Error"}', content_type="application/json")
    if fault is Fault.ERROR_502_AFTER:
        # Sandbox extension: a proxy's page, the origin having stored the message.
        state.stats.faults["502_after"] += 1
        raise web.HTTPBadGateway(text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")
