"""Helpers for tests that run the dispatcher against the sandbox and a real database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from campaigner.config import Config, config_from_mapping
from campaigner.dispatch.runner import CampaignRunner, RunReport
from campaigner.dispatch.throttle import Limits, Throttle
from campaigner.dispatch.worker import Worker
from campaigner.providers.registry import make_provider
from campaigner.sandbox import RunningSandbox
from campaigner.store.store import Store

API_KEY_ENV = "CAMPAIGNER_TEST_SANDBOX_KEY"
WEBHOOK_SECRET_ENV = "CAMPAIGNER_TEST_WEBHOOK_SECRET"


def sandbox_config(sandbox: RunningSandbox, *, provider_type: str = "cliqtel", **sections: Any) -> Config:
    """A Config pointing at `sandbox`; `sections` are {"provider": {...}, "dispatcher": {...}} overrides."""
    base_url = sandbox.cliqtel_url if provider_type == "cliqtel" else sandbox.clickatell_url
    provider = {
        "type": provider_type,
        "base_url": base_url,
        "api_key_env": API_KEY_ENV,
        "webhook_secret_env": WEBHOOK_SECRET_ENV,
        "sender": "+3197010203040",
        "requests_per_minute": sandbox.settings.requests_per_minute * 60 / sandbox.settings.request_window,
        "request_window": sandbox.settings.request_window,
        "messages_per_second": sandbox.settings.messages_per_second / sandbox.settings.message_window,
        "connect_timeout": 2.0,
        "read_timeout": 3.0,
        **sections.pop("provider", {}),
    }
    dispatcher = {
        "worker_timeout": 2.0,
        "heartbeat_interval": 0.5,
        "poll_interval": 0.2,
        **sections.pop("dispatcher", {}),
    }
    return config_from_mapping({"provider": provider, "dispatcher": dispatcher, **sections}, source="<test>")


async def wait_for(condition: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Poll `condition` until it holds; fail with `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.05)


def throttle_for(config: Config) -> Throttle:
    """The in-memory throttle of the configured account's limits."""
    return Throttle(Limits.of(config.provider))


@asynccontextmanager
async def runner_for(store: Store, config: Config, campaign_id: int) -> AsyncIterator[CampaignRunner]:
    """A runner of `campaign_id` with its own provider client and registered worker."""
    provider = make_provider(config.provider)
    worker = Worker(store, config.dispatcher.heartbeat_interval, config.dispatcher.worker_timeout)
    await worker.start()
    try:
        yield CampaignRunner(store, provider, throttle_for(config), config, campaign_id, worker)
    finally:
        await worker.stop()
        await provider.close()


async def run_campaign(store: Store, config: Config, campaign_id: int, within: float = 60) -> RunReport:
    """Run `campaign_id` to its end (or fail after `within` seconds)."""
    async with runner_for(store, config, campaign_id) as runner:
        return await asyncio.wait_for(runner.run(), within)
