"""The daemon's two HTTP apps served as the daemon serves them (guarded Listeners on 127.0.0.1),
with a small client for each: `client.post(...)` reaches the public listener, `client.admin.get(...)`
the admin one (/readyz, /metrics)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from yarl import URL

from campaigner.app.admin import ReadyCheck, build_admin_app
from campaigner.app.connections import Limits, Listener
from campaigner.app.floods import FloodLog
from campaigner.app.http import build_http_app
from campaigner.config import Config
from campaigner.providers.base import Provider
from campaigner.providers.registry import make_provider
from campaigner.store.store import Store


class Client:
    """Requests to one listener; every response is read before it is returned."""

    def __init__(self, session: aiohttp.ClientSession, listener: Listener) -> None:
        self.session = session
        self.listener = listener
        self.base = f"http://127.0.0.1:{listener.port}"

    def make_url(self, path: str) -> URL:
        return URL(self.base + path)

    async def request(self, method: str, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        resp = await self.session.request(method, self.base + path, **kwargs)
        await resp.read()
        return resp

    async def get(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.request("POST", path, **kwargs)


class Served(Client):
    """The public listener's client, with `admin` (the admin listener's) and the shared FloodLog."""

    def __init__(
        self, session: aiohttp.ClientSession, listener: Listener, admin: Client, floods: FloodLog
    ) -> None:
        super().__init__(session, listener)
        self.admin = admin
        self.floods = floods


@asynccontextmanager
async def serving(
    store: Store,
    config: Config,
    provider: Provider | None = None,
    *,
    ready: ReadyCheck | None = None,
    limits: Limits | None = None,
) -> AsyncIterator[Served]:
    """Both apps on free ports of 127.0.0.1 (real HTTP through the daemon's own Listener)."""
    own = provider is None
    provider = provider or make_provider(config.provider)
    floods = FloodLog(logging.getLogger("campaigner.app.http"))
    limits = limits or Limits.of(config.daemon)
    app = build_http_app(store, {config.provider.account: provider}, config, floods=floods)
    public = await Listener.start(app, "127.0.0.1", 0, limits, floods, "http")
    admin = await Listener.start(
        build_admin_app(store, config, ready=ready, floods=floods), "127.0.0.1", 0, limits, floods, "admin"
    )
    try:
        async with aiohttp.ClientSession() as session:
            yield Served(session, public, Client(session, admin), floods)
    finally:
        await admin.close()
        await public.close()
        floods.close()
        if own:
            await provider.close()
