"""Listeners that hostile traffic cannot exhaust: bounded connections, request heads and idleness.

    listener = await Listener.start(app, "0.0.0.0", 8080, config.daemon, floods)
    ...
    await listener.close()

aiohttp alone closes nothing that never completes its request head until its keep-alive timeout
(about an hour by default), and accepts connections until the process runs out of descriptors,
which then starves the database pool and the provider's connections too. A Listener promises:

- a connection that has not sent a whole request head within `header_timeout` is closed; between
  requests an idle keep-alive connection is closed after `keepalive_timeout`;
- at most `max_connections` are open: a new one beyond that closes the longest-idle one (one
  not handling a request) of the client holding the most connections, or, when every one is busy,
  is answered 503 and closed;
- request lines and header fields are bounded, bodies are not decompressed (the webhook routes
  refuse a Content-Encoding), and malformed HTTP is a 400 with one log line per interval, never a
  traceback; no response names the server software.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import OrderedDict
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from campaigner.app.floods import FloodLog
from campaigner.config import DaemonConfig

log = logging.getLogger(__name__)

# A provider's callback has a handful of headers; a reverse proxy adds a few more.
MAX_LINE = 4096
MAX_FIELD = 4096
MAX_HEADERS = 64
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True)
class Limits:
    """What one listener allows (from DaemonConfig)."""

    header_timeout: float
    keepalive_timeout: float
    max_connections: int

    @classmethod
    def of(cls, daemon: DaemonConfig, max_connections: int | None = None) -> Limits:
        return cls(daemon.header_timeout, daemon.keepalive_timeout, max_connections or daemon.max_connections)


class _Guard:
    """The open connections of one listener, by peer, the idle ones in the order they became idle.

    Room is made at the expense of the peer holding the most connections (its longest-idle one):
    a client that opens hundreds evicts its own, not the provider's callback or the health probe.
    """

    def __init__(self, limits: Limits, floods: FloodLog, name: str) -> None:
        self.limits = limits
        self.floods = floods
        self.name = name
        self.open: set[_GuardedHandler] = set()
        self._per_peer: dict[str, int] = {}
        self._idle: dict[str, OrderedDict[_GuardedHandler, None]] = {}

    def admit(self, handler: _GuardedHandler) -> bool:
        """Count a new connection; make room for it, or refuse it (False) when all are busy."""
        self.open.add(handler)
        self._per_peer[handler.peer] = self._per_peer.get(handler.peer, 0) + 1
        self.set_idle(handler)
        if len(self.open) <= self.limits.max_connections:
            return True
        victim = self._victim(handler)
        if victim is not None:
            self.floods.event(
                f"{self.name}:evicted",
                logging.WARNING,
                "%s: %d connections open (daemon.max_connections): closing the longest idle of the "
                "client holding the most (%d)",
                self.name,
                len(self.open),
                self._per_peer.get(victim.peer, 0),
            )
            victim.shut()
            return True
        self.floods.event(
            f"{self.name}:refused",
            logging.WARNING,
            "%s: %d connections open and all busy (daemon.max_connections): new connection refused, 503",
            self.name,
            len(self.open),
        )
        return False

    def _victim(self, newcomer: _GuardedHandler) -> _GuardedHandler | None:
        # Heaviest peer first; the scan is over peers (a few, or at most max_connections).
        for peer in sorted(self._per_peer, key=self._per_peer.__getitem__, reverse=True):
            for handler in self._idle.get(peer, ()):
                if handler is not newcomer:
                    return handler
        return None

    def peers(self) -> dict[str, int]:
        """Open connections by client address."""
        return dict(self._per_peer)

    def set_idle(self, handler: _GuardedHandler) -> None:
        """`handler` waits for a request head (new, or between requests): it may be evicted."""
        if handler in self.open:
            idle = self._idle.setdefault(handler.peer, OrderedDict())
            idle[handler] = None
            idle.move_to_end(handler)

    def set_busy(self, handler: _GuardedHandler) -> None:
        """`handler` has a request in hand: it is not evicted."""
        idle = self._idle.get(handler.peer)
        if idle is not None:
            idle.pop(handler, None)

    def gone(self, handler: _GuardedHandler) -> None:
        if handler not in self.open:
            return
        self.open.discard(handler)
        self.set_busy(handler)
        left = self._per_peer[handler.peer] - 1
        if left:
            self._per_peer[handler.peer] = left
        else:
            del self._per_peer[handler.peer]
            self._idle.pop(handler.peer, None)


class _GuardedHandler(RequestHandler):
    """aiohttp's connection protocol, with a deadline for the request head and a place in the guard."""

    __slots__ = ("_guard", "_head_timer", "peer")

    def __init__(self, manager: Server, *, guard: _Guard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._head_timer: asyncio.TimerHandle | None = None
        self.peer = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peername = transport.get_extra_info("peername")
        self.peer = str(peername[0]) if isinstance(peername, tuple) and peername else ""
        if not self._guard.admit(self):
            transport.write(_BUSY)  # type: ignore[attr-defined]
            self._guard.gone(self)
            self.force_close()  # a graceful close: the 503 goes out first
            return
        if self.transport is not None:
            self._head_timer = self._loop.call_later(self._guard.limits.header_timeout, self._head_late)

    def data_received(self, data: bytes) -> None:
        before = self._request_count
        super().data_received(data)
        if self._request_count != before:  # a whole request head arrived: busy until answered
            self._guard.set_busy(self)
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

    async def finish_response(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        finally:
            if self.transport is not None and not self._messages:
                # Idle again: the keep-alive timeout (aiohttp's) bounds the wait for the next head.
                self._guard.set_idle(self)

    def _head_late(self) -> None:
        self._head_timer = None
        if self._request_count == 0 and self.transport is not None:
            self._guard.floods.event(
                f"{self._guard.name}:slow_head",
                logging.WARNING,
                "%s: closed a connection with no complete request head after %g s (daemon.header_timeout)",
                self._guard.name,
                self._guard.limits.header_timeout,
            )
            self.shut()

    def shut(self) -> None:
        """Close now, whatever the connection is doing."""
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._guard.gone(self)
        if self.transport is not None:
            self.transport.abort()  # no FIN handshake and no TIME_WAIT for a connection we drop
        self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._guard.gone(self)
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """Malformed HTTP (400) or an error past the app's middleware: one short line, no traceback."""
        reason = f"{type(exc).__name__}: {str(exc)[:120]}" if exc is not None else (message or "")
        self._guard.floods.event(
            f"{self._guard.name}:http_{status}",
            logging.WARNING,
            "%s: %d to %s: %s",
            self._guard.name,
            status,
            request.remote,
            reason,
        )
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send the error")
        phrase = HTTPStatus(status).phrase
        resp = _Anonymous(status=status, text=f"{status} {phrase}\n", content_type="text/plain")
        resp.force_close()
        return resp


class _Anonymous(web.Response):
    """A response without the Server header (for those made below the app, with no on_response_prepare)."""

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        self.headers.popall("Server", None)


class _GuardedServer(Server):
    def __init__(self, *args: Any, guard: _Guard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard = guard

    def __call__(self) -> RequestHandler:
        return _GuardedHandler(self, loop=self._loop, guard=self._guard, **self._kwargs)


class _GuardedRunner(web.AppRunner):
    def __init__(self, app: web.Application, guard: _Guard, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._guard = guard

    async def _make_server(self) -> Server:
        plain = await super()._make_server()  # runs the app's startup and freezes it
        return _GuardedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            loop=asyncio.get_running_loop(),
            guard=self._guard,
            **self._kwargs,
        )


async def _no_server_header(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers.popall("Server", None)


def anonymous(app: web.Application) -> web.Application:
    """`app` with no Server header on its responses (aiohttp's names itself and Python's version)."""
    app.on_response_prepare.append(_no_server_header)
    return app


# Connections asyncio accepts in one go (it uses the listen backlog for this too).
ACCEPT_BATCH = 128
# The kernel's queue of connections waiting to be accepted. asyncio sets it to ACCEPT_BATCH; under a
# flood of new connections a queue that short overflows, and the kernel drops the SYNs of everyone,
# the provider's and the health probe's too, whose clients retry only after a second.
LISTEN_QUEUE = 4096


def _deepen_listen_queue(site: web.TCPSite) -> None:
    """Give the listening sockets a long kernel queue, keeping asyncio's short accept batches."""
    server = getattr(site, "_server", None)
    for transport_socket in getattr(server, "sockets", ()) or ():
        # listen() again on the same socket (a duplicate of its descriptor) only resizes its queue.
        # Closing the duplicate closes only its own descriptor.
        with socket.socket(fileno=os.dup(transport_socket.fileno())) as duplicate:
            duplicate.listen(LISTEN_QUEUE)


class Listener:
    """One guarded aiohttp listener on host:port."""

    def __init__(self, runner: web.AppRunner, site: web.TCPSite, guard: _Guard) -> None:
        self._runner = runner
        self._site = site
        self._guard = guard

    @classmethod
    async def start(
        cls, app: web.Application, host: str, port: int, limits: Limits, floods: FloodLog, name: str
    ) -> Listener:
        """Listen on host:port (0: any free port); OSError when it cannot."""
        guard = _Guard(limits, floods, name)
        runner = _GuardedRunner(
            app,
            guard,
            access_log=None,
            keepalive_timeout=limits.keepalive_timeout,
            max_line_size=MAX_LINE,
            max_field_size=MAX_FIELD,
            max_headers=MAX_HEADERS,
            # Bodies arrive as sent: decompressing is not ours to do (the routes refuse encodings).
            auto_decompress=False,
            # After answering a request whose body we did not read (408, 413, 415), discard what
            # still comes for at most this long, then close (aiohttp's 10 s is a slow client's gift).
            lingering_time=1.0,
            shutdown_timeout=5.0,
        )
        await runner.setup()
        # asyncio accepts up to `backlog` connections in one go: a smaller batch under a connection
        # flood is a shorter stall of everything else on the loop.
        site = web.TCPSite(runner, host, port, backlog=ACCEPT_BATCH)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        _deepen_listen_queue(site)
        return cls(runner, site, guard)

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen, when asked for 0)."""
        return self._site.port

    @property
    def app(self) -> web.Application:
        """The application it serves."""
        return self._runner.app

    @property
    def open_connections(self) -> int:
        """Connections open now."""
        return len(self._guard.open)

    def peers(self) -> dict[str, int]:
        """Connections open now, by client address."""
        return self._guard.peers()

    async def close(self) -> None:
        """Stop listening and close every connection."""
        await self._runner.cleanup()
