"""Helpers for tests that run the dispatcher against the sandbox and a real database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from campaigner.config import Config, config_from_mapping
from campaigner.sandbox import RunningSandbox
from campaigner.store.rows import CampaignTotals, NewCampaign
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


@dataclass(frozen=True, slots=True)
class Planned:
    """A message row as the planner would produce it."""

    line: int
    e164: str
    country: str | None
    body: str
    encoding: str = "GSM-7"
    segments: int = 1
    cost: float = 0.008


def numbers(count: int, start: int = 0) -> list[str]:
    """`count` distinct valid Dutch mobile numbers."""
    return [f"+316{10_000_000 + start + i:08d}" for i in range(count)]


async def create_running_campaign(store: Store, recipients: list[str], body: str = "Hello {n}") -> int:
    """A campaign with one pending job per recipient, already `running`."""
    rows = [Planned(i + 2, e164, "NL", body.replace("{n}", str(i))) for i, e164 in enumerate(recipients)]
    spec = NewCampaign(name="test", message=body)
    totals = CampaignTotals(total_jobs=len(rows), estimated_cost=0.008 * len(rows), preview={})
    campaign_id = await store.create_campaign(spec, [rows], lambda: totals)
    await store.resume_campaign(campaign_id)
    return campaign_id


async def wait_for(condition: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Poll `condition` until it holds; fail with `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.05)
