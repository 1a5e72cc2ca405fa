"""Shared HTTP plumbing of the provider clients: one aiohttp session per provider, and network failures
turned into outcomes of the taxonomy.

The one distinction that matters for exactly-once sending is whether the request left this process:
a connection refused or reset *before the request was written* cannot have reached the provider
(TRANSIENT: safe to resend), while a timeout, a dropped connection or an unreadable reply *after* it
was written may have (AMBIGUOUS: reconcile with `lookup` first). aiohttp's trace hook
`on_request_headers_sent` tells the two apart exactly, so we do not guess from exception types.

A call that ends without a reply also ends its request on the wire: connections close with an RST
that discards what the provider has not acknowledged (`abortive_socket`), so a request cut off by a
network partition is not delivered by the kernel's retransmissions once the link is back, after the
call's bound, when other workers may already have found the job unsent and sent it again.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import socket
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp

from campaigner import metrics
from campaigner.config import Secret
from campaigner.model.provider import Outcome, RateLimitInfo

log = logging.getLogger(__name__)

# Connections kept open to one provider; more than the dispatcher's concurrency ever needs.
POOL_LIMIT = 100


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A complete HTTP response: status, headers and the whole body (already read)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is empty or not JSON (an unreadable reply)."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None


class NetworkFailure(Exception):
    """The request got no HTTP reply; `outcome` is TRANSIENT (never left us) or AMBIGUOUS (may have)."""

    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None when absent or garbage."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw.strip()))
    except ValueError:
        return None


def rate_limit_of(headers: Mapping[str, str]) -> RateLimitInfo:
    """The X-RateLimit-Limit / X-RateLimit-Remaining / Retry-After facts of one response."""
    return RateLimitInfo(
        limit=_int_header(headers, "X-RateLimit-Limit"),
        remaining=_int_header(headers, "X-RateLimit-Remaining"),
        retry_after=parse_retry_after(headers.get("Retry-After")),
    )


async def _on_headers_sent(
    session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestHeadersSentParams
) -> None:
    # From here on the provider may see the request: any failure after this point is AMBIGUOUS.
    if ctx.trace_request_ctx is not None:
        ctx.trace_request_ctx["written"] = True


def abortive_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    """A client socket whose close throws away what the peer has not acknowledged (SO_LINGER 0).

    A plain close keeps unacknowledged bytes in the kernel, which retransmits them, with a FIN, for
    up to ~15 minutes: a request written into a cut link reaches the provider whenever the link
    comes back, however long ago the call gave up on it. Exactly-once rests on a call being over at
    `ProviderConfig.request_bound()` (others then look its job up and may send it again), so every
    connection is closed with an RST instead, and its unsent bytes die with it. An idle keep-alive
    connection closed this way costs nothing: the provider has answered everything on it.
    """
    family, type_, proto, _, _ = addr_info
    sock = socket.socket(family=family, type=type_, proto=proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return sock


class HttpSession:
    """One keep-alive aiohttp session for one provider account, with its timeouts and credentials.

    Nothing happens in the constructor but assignment: the aiohttp session is created on first use,
    inside the running event loop. Secrets are revealed only into request headers, and every text
    this class produces passes through `redact`.
    """

    def __init__(
        self,
        *,
        name: str,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
        headers: Mapping[str, str] | None = None,
        secrets: tuple[Secret, ...] = (),
        account: str | None = None,
    ) -> None:
        self.name = name
        self._account = account  # the provider account its replies are counted under (metrics)
        # sock_read alone bounds each read, not a reply that trickles a byte at a time, nor a wait
        # for a pooled connection: the whole call is cut off at `total_timeout` too.
        self._total = total_timeout
        self._timeout = aiohttp.ClientTimeout(
            total=total_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._headers = dict(headers or {})
        self._secrets = secrets
        self._session: aiohttp.ClientSession | None = None
        self.last_rate_limit = RateLimitInfo()

    def __repr__(self) -> str:
        return f"HttpSession(name={self.name!r})"

    def redact(self, text: str) -> str:
        """`text` with every secret of this session replaced by ***, and the secret half of an
        `id|secret` token (Cliqtel's keys look like `17|...`) too, when a reply echoes only that."""
        for secret in self._secrets:
            value = secret.reveal()
            if value and value in text:
                text = text.replace(value, "***")
            _, bar, half = value.partition("|")
            # A short tail could match ordinary words of the reply; no real key has one.
            if bar and len(half) >= 4 and half in text:
                text = text.replace(half, "***")
        return text

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            trace = aiohttp.TraceConfig(trace_config_ctx_factory=SimpleNamespace)
            trace.on_request_headers_sent.append(_on_headers_sent)
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(
                    limit=POOL_LIMIT, limit_per_host=POOL_LIMIT, socket_factory=abortive_socket
                ),
                trace_configs=[trace],
                # The provider's cookies are of no use to us and would leak between requests.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpReply:
        """Make one request and read the whole reply.

        Returns any HTTP reply, whatever its status; raises NetworkFailure when there is none.
        """
        session = self._ensure_session()
        state: dict[str, bool] = {"written": False}
        all_headers = {**self._headers, **(headers or {})}
        try:
            async with asyncio.timeout(self._total):
                async with session.request(
                    method,
                    url,
                    json=json_body,
                    params=params,
                    headers=all_headers,
                    allow_redirects=False,
                    trace_request_ctx=state,
                ) as response:
                    body = await response.read()
                    reply = HttpReply(response.status, dict(response.headers), body)
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise self._failure(exc, written=state["written"], method=method, url=url) from None
        self.last_rate_limit = rate_limit_of(reply.headers)
        metrics.provider_reply(reply.status, self._account)
        return reply

    def _failure(self, exc: BaseException, *, written: bool, method: str, url: str) -> NetworkFailure:
        kind = type(exc).__name__
        text = str(exc) or kind
        where = f"{method} {url.split('?', 1)[0]}"
        if not written:
            detail = f"{self.name}: {where}: not sent ({kind}: {text})"
            return NetworkFailure(Outcome.TRANSIENT, self.redact(detail))
        detail = f"{self.name}: {where}: no reply after the request was sent ({kind}: {text})"
        return NetworkFailure(Outcome.AMBIGUOUS, self.redact(detail))

    async def close(self) -> None:
        """Close the aiohttp session (idempotent)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
