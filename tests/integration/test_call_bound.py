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


async def test_a_call_given_up_on_resets_its_connection_so_no_byte_of_it_goes_out_later() -> None:
    # Behind a cut link the kernel would retransmit an unacknowledged request until the link is
    # back, long after the bound, and the provider would get it when others may have resent the
    # job (benchmarks/partition.py saw that). An RST instead of a FIN means the kernel dropped it.
    after_request: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
        await reader.readexactly(int(head.split("content-length:")[1].split("\r\n")[0]))
        try:
            more = await reader.read(1)
            after_request.set_result("FIN" if more == b"" else "data")
        except ConnectionResetError:
            after_request.set_result("RST")
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    session = HttpSession(name="test", connect_timeout=0.5, read_timeout=0.3, total_timeout=1.0)
    try:
        with pytest.raises(NetworkFailure) as failure:
            await session.request("POST", f"http://127.0.0.1:{port}/sms", json_body={"to": "+31612345678"})
        assert failure.value.outcome is Outcome.AMBIGUOUS
        assert await asyncio.wait_for(after_request, 5) == "RST"
    finally:
        await session.close()
        server.close()
        await server.wait_closed()
