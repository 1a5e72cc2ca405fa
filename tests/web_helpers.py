"""The dashboard and API application served as the daemon serves it (a guarded Listener on
127.0.0.1, a free port), with the token in its environment variable."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from campaigner.app.connections import Limits, Listener
from campaigner.app.floods import FloodLog
from campaigner.app.web.balance import Ask
from campaigner.app.web.server import build_web_app
from campaigner.config import Config, Secret
from campaigner.store.store import Store

TOKEN = "test-token-0123456789abcdef"
TOKEN_ENV = "CAMPAIGNER_TEST_API_TOKEN"


@asynccontextmanager
async def serving_web(store: Store, config: Config, *, balance: Ask | None = None) -> AsyncIterator[str]:
    """The web app on a free port of 127.0.0.1; yields its base URL."""
    floods = FloodLog(logging.getLogger("campaigner.app.web"))
    app = build_web_app(store, config, Secret(TOKEN), balance=balance)
    listener = await Listener.start(app, "127.0.0.1", 0, Limits.of(config.daemon), floods, "api")
    try:
        yield f"http://127.0.0.1:{listener.port}"
    finally:
        await listener.close()
        floods.close()
