"""Replies read by polling Cliqtel's inbound list, against the sandbox over HTTP and PostgreSQL.

No webhook is involved: the sandbox stores the replies and lists them, as Cliqtel's documents say
it does while inbound webhooks are "coming soon".
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from campaigner.inbound.policy import InboundPolicy
from campaigner.inbound.poller import poll_once
from campaigner.inbound.replies import handle_inbound
from campaigner.model.provider import InboundEvent
from campaigner.providers.base import Provider
from campaigner.providers.registry import make_provider
from campaigner.sandbox import RunningSandbox
from campaigner.store.store import Store
from tests.dispatch_helpers import API_KEY_ENV, sandbox_config
from tests.fixtures.sandbox import MakeSandbox

A, B = "+31612345670", "+31612345671"


@pytest.fixture(autouse=True)
def _sandbox_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "17|sandbox-full-access-key")


@pytest.fixture
async def sandbox(make_sandbox: MakeSandbox) -> RunningSandbox:
    return await make_sandbox()


@pytest.fixture
async def provider(sandbox: RunningSandbox) -> AsyncIterator[Provider]:
    client = make_provider(sandbox_config(sandbox).provider)
    try:
        yield client
    finally:
        await client.close()


async def reply(sandbox: RunningSandbox, sender: str, body: str) -> None:
    """A recipient texts the account's number (stored and listed; no webhook is posted)."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{sandbox.url}/_sandbox/inbound", json={"from": sender, "body": body}) as resp:
            assert resp.status == 200 and (await resp.json())["delivered"] is None


async def poll(store: Store, provider: Provider) -> dict[str, int]:
    async def no_pace() -> None:
        return None

    async def apply(event: InboundEvent) -> str:
        return next(iter(await handle_inbound(store, [event], InboundPolicy().for_lookups())))

    return dict(await poll_once(store, provider, "default", apply, no_pace))


async def test_replies_are_polled_and_applied_once_in_order(
    store: Store, database_url: str, sandbox: RunningSandbox, provider: Provider
) -> None:
    await reply(sandbox, A, "STOP")
    await reply(sandbox, B, "Thanks!")
    assert await poll(store, provider) == {"opt_out": 1, "other": 1}
    assert [s.e164 for s in await store.list_suppressions()] == [A]
    [suppression] = await store.list_suppressions()
    assert (suppression.reason, suppression.source) == ("stop_reply", "inbound")

    assert await poll(store, provider) == {}  # read again by the overlap, applied once

    # A daemon started anew (a new store on the same database) goes on from the cursor.
    restarted = await Store.open_url(database_url, migrate=False)
    try:
        await reply(sandbox, A, "START")
        assert await poll(restarted, provider) == {"opt_in": 1}
        assert await restarted.list_suppressions() == []
        assert await poll(restarted, provider) == {}
    finally:
        await restarted.close()


async def test_a_first_poll_reads_the_replies_of_the_last_day(
    store: Store, sandbox: RunningSandbox, provider: Provider
) -> None:
    await reply(sandbox, A, "stop")
    assert await poll(store, provider) == {"opt_out": 1}
