"""What the web application's handlers share, as typed application keys."""

from __future__ import annotations

from aiohttp import web

from campaigner.app.web.auth import Guard
from campaigner.app.web.balance import BalanceCache
from campaigner.config import Config
from campaigner.store.store import Store

STORE: web.AppKey[Store] = web.AppKey("campaigner_web_store", Store)
CONFIG: web.AppKey[Config] = web.AppKey("campaigner_web_config", Config)
GUARD: web.AppKey[Guard] = web.AppKey("campaigner_web_guard", Guard)
# The database the store is on: a campaign is loaded on a thread of its own, with its own pool.
DATABASE_URL: web.AppKey[str] = web.AppKey("campaigner_web_database_url", str)
# The configured account's balance, when the daemon can ask its provider (absent otherwise).
BALANCE: web.AppKey[BalanceCache] = web.AppKey("campaigner_web_balance", BalanceCache)
