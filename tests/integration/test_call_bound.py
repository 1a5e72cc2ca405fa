"""Every provider call ends within `ProviderConfig.request_bound()`: the exactly-once lease rule
assumes it. A reply that trickles a byte at a time passes every per-read timeout; the whole-call
bound must still cut it off, as an ambiguous result (the request was sent)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from campaigner.config import ProviderConfig
from campaigner.model.provider import Outcome
from campaigner.providers.http import HttpSession, NetworkFailure


async def trickle(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = 10_000
    await response.prepare(request)
    for _ in range(10_000):  # one byte every 0.2 s: each read is quick, the reply never ends
        await response.write(b" ")
        await asyncio.sleep(0.2)
    return response


@pytest.fixture
async def trickling_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/slow", trickle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/slow"
    finally:
        await runner.cleanup()


async def test_a_trickling_reply_is_cut_off_at_the_request_bound(trickling_url: str) -> None:
    config = ProviderConfig(connect_timeout=0.5, read_timeout=1.0)
    bound = config.request_bound()
    session = HttpSession(
        name="test",
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        total_timeout=bound,
    )
    began = time.monotonic()
    try:
        with pytest.raises(NetworkFailure) as failure:
            await session.request("POST", trickling_url, json_body={"to": "+31612345678"})
    finally:
        await session.close()
    took = time.monotonic() - began
    assert failure.value.outcome is Outcome.AMBIGUOUS  # the request was written: reconcile, never resend
    assert bound - 0.5 < took < bound + 1.0, f"took {took:.2f} s; the bound is {bound:.2f} s"
