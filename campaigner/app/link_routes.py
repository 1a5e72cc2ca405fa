"""The redirect of branded short links: `GET {base path}/{code}` on the daemon's public listener.

    links = LinkRedirects(store, config.links)
    links.install(app)          # the route, and the click flusher started and stopped with the app

A request costs at most one indexed lookup (a primary-key probe), and none when the code is in the
bounded LRU cache, which holds unknown codes too (so a flood of random codes is answered by the
same path and at the same cost as real ones: a text that cannot be a code, of the wrong length or
alphabet, is a 404 before any lookup). Lookups that arrive while one is in flight wait for it and
then go together in one statement (`link-targets`), so under load the database sees one round trip
for many requests, and a quiet service answers each one after a single round trip.

A click is appended to an in-memory buffer before the redirect is answered, and written by a
background flusher in one statement per batch (`record-clicks`); the app's shutdown stops the
flusher between writes and flushes what is left, so a clean stop loses no click that was answered.
Nothing here logs the code, the target, the user agent or the client's address.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from aiohttp import web

from campaigner.config import LinksConfig
from campaigner.errors import DatabaseError
from campaigner.model.links import Click, LinkTarget
from campaigner.text.links import is_code

log = logging.getLogger(__name__)

NOT_FOUND_PAGE: Final = (
    "<!doctype html><meta charset=utf-8><title>Link not found</title><p>This link does not exist.</p>\n"
)
GONE_PAGE: Final = (
    "<!doctype html><meta charset=utf-8><title>Link expired</title><p>This link has expired.</p>\n"
)
UNAVAILABLE_PAGE: Final = (
    "<!doctype html><meta charset=utf-8><title>Try again</title><p>This link cannot be opened right "
    "now; try again in a moment.</p>\n"
)
# Clicks buffered at most, in batches of links.flush_batch, while the database does not take them.
BACKLOG_BATCHES: Final = 100
# Kept apart from the counted figures: an unknown code is not worth a database row.
_MISSING: Final = object()


class LinkReads(Protocol):
    """What the redirect needs of the store."""

    async def link_targets(self, codes: Sequence[str]) -> dict[str, LinkTarget]: ...

    async def record_clicks(self, clicks: list[Click]) -> None: ...


class TargetCache:
    """code → LinkTarget or None (no such code), least recently used dropped beyond `size`."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[str, LinkTarget | None] = OrderedDict()

    def get(self, code: str) -> LinkTarget | object | None:
        entry = self._entries.get(code, _MISSING)
        if entry is not _MISSING:
            self._entries.move_to_end(code)
        return entry

    def put(self, code: str, target: LinkTarget | None) -> None:
        if self._size <= 0:
            return
        self._entries[code] = target
        self._entries.move_to_end(code)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class Lookups:
    """Codes not in the cache, looked up together: one statement for all that wait, one at a time."""

    # Codes a statement asks for at most (the rest wait for the next one).
    BATCH: Final = 500

    def __init__(self, store: LinkReads) -> None:
        self._store = store
        self._waiting: dict[str, asyncio.Future[LinkTarget | None]] = {}
        self._running = False
        self._task: asyncio.Task[None] | None = None  # held: the loop keeps only a weak reference

    async def get(self, code: str) -> LinkTarget | None:
        future = self._waiting.get(code)
        if future is None:
            future = self._waiting[code] = asyncio.get_running_loop().create_future()
            if not self._running:
                self._running = True
                self._task = asyncio.get_running_loop().create_task(self._run(), name="link lookups")
        # A request that goes away must not cancel the answer others wait for.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        try:
            while self._waiting:
                codes = list(itertools.islice(self._waiting, self.BATCH))
                try:
                    found = await self._store.link_targets(codes)
                except BaseException as exc:
                    for code in codes:
                        future = self._waiting.pop(code)
                        if not future.done():
                            future.set_exception(
                                exc if isinstance(exc, Exception) else DatabaseError("stopped")
                            )
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for code in codes:
                    future = self._waiting.pop(code)
                    if not future.done():
                        future.set_result(found.get(code))
        finally:
            self._running = False


class ClickBuffer:
    """Clicks answered but not yet written; written in batches by `run`, and by `flush` at the end."""

    def __init__(self, store: LinkReads, interval: float, batch: int) -> None:
        self._store = store
        self._interval = interval
        self._batch = batch
        self._clicks: list[Click] = []
        self._full = asyncio.Event()
        self._stopping = False
        self.written = 0
        self.dropped = 0

    def add(self, click: Click) -> None:
        """Buffer a click; beyond BACKLOG_BATCHES batches (a database away for long) it is dropped
        and counted, so memory stays bounded while the redirects go on being answered."""
        if len(self._clicks) >= self._batch * BACKLOG_BATCHES:
            self.dropped += 1
            if self.dropped % 10_000 == 1:
                log.warning("link clicks dropped: %d so far (the database is not taking them)", self.dropped)
            return
        self._clicks.append(click)
        if len(self._clicks) >= self._batch:
            self._full.set()

    @property
    def waiting(self) -> int:
        return len(self._clicks)

    async def flush(self) -> None:
        """Write what is buffered; on a database error the clicks stay for the next try."""
        while self._clicks:
            taken, self._clicks = self._clicks[: self._batch * 10], self._clicks[self._batch * 10 :]
            try:
                await self._store.record_clicks(taken)
            except BaseException:
                self._clicks[:0] = taken  # back in front, in order
                raise
            self.written += len(taken)

    async def run(self) -> None:
        """Flush every `interval` seconds, or as soon as a batch is full, until `stop`.

        Never cancelled mid-write: a statement cut off after it committed would be written again."""
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._interval)
            self._full.clear()
            try:
                await self.flush()
            except DatabaseError as exc:
                log.warning("link clicks not written yet (%d waiting): %s", len(self._clicks), exc)
            except Exception as exc:  # a bug must not end the flusher: every later click would be lost
                log.error("link clicks not written (%d waiting): %s: %s", len(self._clicks),
                          type(exc).__name__, exc)  # fmt: skip

    def stop(self) -> None:
        """Make `run` return after the write it may be doing."""
        self._stopping = True
        self._full.set()


class LinkRedirects:
    """The redirect route, its cache and its click buffer, for one public app."""

    def __init__(self, store: LinkReads, config: LinksConfig) -> None:
        self.config = config
        self.cache = TargetCache(config.cache_size)
        self.lookups = Lookups(store)
        self.clicks = ClickBuffer(store, config.flush_interval, config.flush_batch)
        self._retention = timedelta(days=config.retention_days)
        self._bots = tuple(b.casefold() for b in config.bot_user_agents) if config.flag_bots else ()
        self._status = config.redirect_status
        self._code_length = config.code_length

    @property
    def route(self) -> str:
        return f"{self.config.base_path}/{{code}}"

    def install(self, app: web.Application) -> None:
        """Add the route (after every other, so a fixed path such as /healthz wins) and the flusher."""
        app.router.add_get(self.route, self.redirect)
        app.cleanup_ctx.append(self._flusher)

    async def _flusher(self, _app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(self.clicks.run(), name="link clicks")
        yield
        self.clicks.stop()
        await task
        try:
            await self.clicks.flush()
        except DatabaseError as exc:
            log.error("link clicks lost at shutdown (%d): %s", self.clicks.waiting, exc)

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        """GET {base path}/{code}: 302 (or 301) to the target; 404 unknown; 410 expired."""
        code = request.match_info["code"]
        if not is_code(code, self._code_length):
            return _page(404, NOT_FOUND_PAGE)
        found = self.cache.get(code)
        if found is _MISSING:
            try:
                found = await self.lookups.get(code)
            except DatabaseError as exc:
                # Answered here, not by the app's error handler, which logs the path: a code is
                # one person's link and never goes into a log.
                log.warning("short link lookup: database unavailable: %s", exc)
                return _page(503, UNAVAILABLE_PAGE)
            self.cache.put(code, found)
        if not isinstance(found, LinkTarget):
            return _page(404, NOT_FOUND_PAGE)
        now = datetime.now(UTC)
        if now - found.created_at > self._retention:
            return _page(410, GONE_PAGE)
        if request.method == "GET":
            agent = request.headers.get("User-Agent", "")
            self.clicks.add(Click(code, now, self._is_bot(agent), self._ua_hash(agent)))
        headers = {"Location": found.target, "Referrer-Policy": "no-referrer"}
        # A 302 is asked for again on every click (so each is counted); a 301 may be cached.
        headers["Cache-Control"] = "private, no-store" if self._status == 302 else "public, max-age=86400"
        return web.Response(status=self._status, headers=headers)

    def _is_bot(self, agent: str) -> bool:
        if not self._bots:
            return False
        folded = agent.casefold()
        return any(bot in folded for bot in self._bots)

    def _ua_hash(self, agent: str) -> str | None:
        if not self.config.hash_user_agents or not agent:
            return None
        return hashlib.blake2b(agent.encode("utf-8", "replace"), digest_size=8).hexdigest()


def _page(status: int, body: str) -> web.Response:
    return web.Response(
        status=status, text=body, content_type="text/html", headers={"Cache-Control": "no-store"}
    )
