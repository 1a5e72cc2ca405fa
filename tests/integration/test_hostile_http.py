"""Hostile traffic against the daemon's listeners (real aiohttp over 127.0.0.1, real PostgreSQL).

Idle and slow connections are closed and bounded, so /healthz keeps answering; malformed and
forged requests are 4xx with one short log line per interval, never a traceback or a 500;
authenticated but odd payloads are 200 "ignored" with a counted reason, never a 500 or a 503;
/readyz and /metrics are only on the admin listener, /readyz is cached and says nothing about the
database; no response names the server software.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from campaigner.app.admin import READINESS
from campaigner.app.connections import Limits
from campaigner.config import Secret
from campaigner.providers.webhooks import sign
from campaigner.sandbox import RunningSandbox
from campaigner.store.store import Store
from tests.builders import create_running_campaign
from tests.dispatch_helpers import API_KEY_ENV, WEBHOOK_SECRET_ENV, sandbox_config, wait_for
from tests.fixtures.db import refusable_role
from tests.http_helpers import serving

SECRET = "hostile-test-secret"
STATUS = "/webhooks/cliqtel/status"
INBOUND = "/webhooks/cliqtel/inbound"
SHORT = Limits(header_timeout=1.0, keepalive_timeout=1.0, max_connections=20)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "17|sandbox-full-access-key")
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, SECRET)
    monkeypatch.setenv("CLICKATELL_CALLBACK_TOKEN", SECRET)  # Clickatell's callbacks: ?token=


def signed(body: bytes) -> dict[str, str]:
    return {"X-Cliqtel-Signature": sign(body, Secret(SECRET)), "Content-Type": "application/json"}


_opened: list[asyncio.StreamWriter] = []


@pytest.fixture(autouse=True)
async def _close_raw_connections() -> AsyncIterator[None]:
    yield
    while _opened:
        writer = _opened.pop()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def raw(
    port: int, data: bytes, local: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A plain TCP connection from `local` that sends `data` (closed at the end of the test)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
    _opened.append(writer)
    writer.write(data)
    await writer.drain()
    return reader, writer


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bytes:
    """What the server sent before closing the connection (fails if it keeps it open)."""
    return await asyncio.wait_for(reader.read(), within)


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert not [r for r in caplog.records if "unexpected error" in r.getMessage()]


# -- connections ------------------------------------------------------------------------------------


async def test_idle_connections_are_bounded_and_closed_and_healthz_keeps_answering(
    store: Store, sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """The short version of benchmarks/hostile.py: 3x max_connections idle connections, from one
    client, some of them in the middle of a request head."""
    with caplog.at_level(logging.INFO, logger="campaigner"):
        async with serving(store, sandbox_config(sandbox), limits=SHORT) as client:
            port = client.listener.port
            idle = [
                await raw(port, b"" if i % 2 else b"POST /webhooks/cliqtel/status HTTP/1.1\r\nHost: x\r\n")
                for i in range(3 * SHORT.max_connections)
            ]

            async def bounded() -> bool:
                return client.listener.open_connections <= SHORT.max_connections

            await wait_for(bounded, 5, "the listener to close connections beyond max_connections")
            began = time.monotonic()
            assert (await client.get("/healthz")).status == 200  # a new connection still gets in
            assert time.monotonic() - began < 1.0
            # Every idle one is closed within the head timeout (plus scheduling), none held open.
            await asyncio.wait_for(
                asyncio.gather(*(closed_by_server(r, 5) for r, _w in idle)), SHORT.header_timeout + 5
            )
            for _r, writer in idle:
                writer.close()
            await wait_for(lambda: _true(client.listener.open_connections == 0), 5, "no connections left")
    # One line per kind per interval, not one per connection.
    lines = [r for r in caplog.records if r.name.startswith("campaigner.app")]
    assert 0 < len(lines) <= 6, [r.getMessage() for r in lines]
    no_tracebacks(caplog)


async def test_a_flooding_client_evicts_its_own_connections_not_another_clients(
    store: Store, sandbox: RunningSandbox
) -> None:
    limits = Limits(header_timeout=30.0, keepalive_timeout=30.0, max_connections=10)
    async with serving(store, sandbox_config(sandbox), limits=limits) as client:
        assert (await client.get("/healthz")).status == 200  # a keep-alive connection, idle now
        assert client.listener.peers() == {"127.0.0.1": 1}
        port = client.listener.port
        for _ in range(3 * limits.max_connections):  # another client (127.0.0.2) floods
            await raw(port, b"", local="127.0.0.2")

        async def flooded() -> bool:
            return client.listener.peers().get("127.0.0.2", 0) == limits.max_connections - 1

        await wait_for(flooded, 5, "the flood to fill the listener")
        assert client.listener.peers()["127.0.0.1"] == 1  # still open: the flooder lost its own
        assert (await client.get("/healthz")).status == 200


async def _true(value: bool) -> bool:
    return value


async def test_a_body_that_does_not_arrive_is_408_and_idle_keepalive_is_closed(
    store: Store, sandbox: RunningSandbox
) -> None:
    config = sandbox_config(sandbox, daemon={"body_timeout": 1.0})
    async with serving(store, config, limits=SHORT) as client:
        head = b"POST /webhooks/cliqtel/status HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
        reader, writer = await raw(client.listener.port, head + b'{"event":')
        answer = await closed_by_server(reader, 5)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        writer.close()
        # A keep-alive connection left idle after a request is closed after keepalive_timeout.
        reader, writer = await raw(client.listener.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await closed_by_server(reader, SHORT.keepalive_timeout + 5)
        assert answer.startswith(b"HTTP/1.1 200")
        writer.close()


# -- malformed and forged requests -----------------------------------------------------------------


async def test_malformed_requests_are_4xx_with_no_traceback(
    store: Store, sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    deep = b"[" * 1000 + b"]" * 1000  # 2 KB nested 1,000 deep
    with caplog.at_level(logging.INFO, logger="campaigner"):
        async with serving(store, sandbox_config(sandbox)) as client:
            forged = {"X-Cliqtel-Signature": "0" * 64}
            assert (await client.post(STATUS, data=deep, headers=forged)).status == 401
            assert (await client.post(STATUS, data=deep, headers=signed(deep))).status == 400
            garbage = {**signed(b"\x1f\x8bnot gzip"), "Content-Encoding": "gzip"}
            resp = await client.post(STATUS, data=b"\x1f\x8bnot gzip", headers=garbage)
            assert resp.status == 415 and "Content-Encoding" in (await resp.json())["error"]
            # A client that goes away in the middle of its body.
            head = b"POST /webhooks/cliqtel/status HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
            _reader, writer = await raw(client.listener.port, head + b"x" * 100)
            writer.close()
            # Not HTTP at all, and a request line too long.
            reader, writer = await raw(client.listener.port, b"\x16\x03\x01 garbage\r\n\r\n")
            assert (await closed_by_server(reader, 5)).startswith((b"HTTP/1.0 400", b"HTTP/1.1 400"))
            writer.close()
            reader, writer = await raw(client.listener.port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n")
            answer = await closed_by_server(reader, 5)
            assert answer.startswith((b"HTTP/1.0 4", b"HTTP/1.1 4")), answer[:60]
            assert b"Server:" not in answer
            writer.close()

            async def disconnect_seen() -> bool:
                return client.floods.totals.get("status:incomplete_body", 0) == 1

            await wait_for(disconnect_seen, 5, "the aborted body to be noticed")
            assert (await client.get("/healthz")).status == 200
    no_tracebacks(caplog)


async def test_forged_requests_are_logged_once_per_interval_with_a_count(
    store: Store, sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps({"event": "sms.status_updated", "data": {"id": "x", "status": "sent"}}).encode()
    with caplog.at_level(logging.INFO, logger="campaigner"):
        async with serving(store, sandbox_config(sandbox)) as client:
            for _ in range(50):
                resp = await client.post(STATUS, data=body, headers={"X-Cliqtel-Signature": "00"})
                assert resp.status == 401
            assert client.floods.totals["status:rejected_signature"] == 50
    rejected = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    # The first at once, the other 49 in one line when the server closes (or the interval ends).
    assert len(rejected) == 2, rejected
    assert "49 more" in rejected[1]


# -- authenticated but odd payloads ------------------------------------------------------------------


async def test_authenticated_odd_payloads_are_200_ignored_with_a_reason(
    store: Store, sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    campaign_id = await create_running_campaign(store, ["+31612345001"])
    [job] = await store.claim_jobs(campaign_id, "w-test", 1, 60)

    def status(**fields: Any) -> bytes:
        data = {"id": "m-1", "status": "delivered", "updated_at": "2025-01-01T10:00:00Z", **fields}
        return json.dumps({"event": "sms.status_updated", "data": data}).encode()

    cases = {
        "bad_time": [
            status(updated_at=1e20),
            status(updated_at="12345678901234567890"),
            status(updated_at="0001-01-01T00:00:00-01:00"),
            status().replace(b'"2025-01-01T10:00:00Z"', b"NaN"),
        ],
        "bad_id": [
            status(id="m\x00-1"),
            status().replace(b'"m-1"', b'"\\ud800"'),
            status(id="9" * 500),
            status(id={"nested": 1}),
        ],
    }
    with caplog.at_level(logging.INFO, logger="campaigner"):
        async with serving(store, sandbox_config(sandbox)) as client:
            for reason, bodies in cases.items():
                for body in bodies:
                    resp = await client.post(STATUS, data=body, headers=signed(body))
                    answer = await resp.json()
                    assert resp.status == 200, (body[:80], answer)
                    assert answer["ignored"] == {reason: 1}, (body[:80], answer)
            inbound = json.dumps(
                {"event": "sms.received", "data": {"id": "in-1", "from": "+31612345001", "body": "ST\x00P"}}
            ).encode()
            resp = await client.post(INBOUND, data=inbound, headers=signed(inbound))
            assert resp.status == 200 and (await resp.json())["ignored"] == {"bad_text": 1}
    assert (await store.get_job(job.id)).state == "sending"  # type: ignore[union-attr]
    assert await store.suppressed_numbers() == set()
    no_tracebacks(caplog)


async def test_odd_clickatell_client_message_ids_are_ignored(store: Store, sandbox: RunningSandbox) -> None:
    config = sandbox_config(sandbox, provider_type="clickatell")
    path = f"/webhooks/clickatell/status?token={SECRET}"
    json_type = {"Content-Type": "application/json"}

    def callback(client_id: Any) -> bytes:
        data = {"apiMessageId": "a" * 32, "clientMessageId": client_id, "messageStatus": "004"}
        return json.dumps({"data": {**data, "timestamp": 1760000000}}).encode()

    async with serving(store, config) as client:
        for client_id in ("²", "4" * 4300, "9" * 20):
            body = callback(client_id)
            resp = await client.post(path, data=body, headers=json_type)
            assert resp.status == 200 and (await resp.json())["ignored"] == {"bad_ref": 1}
        number = callback(0).replace(b'"clientMessageId": 0', b'"clientMessageId": ' + b"4" * 4301)
        resp = await client.post(path, data=number, headers=json_type)
        assert resp.status == 400  # beyond what Python parses as a number: not JSON we can read


# -- the admin listener -------------------------------------------------------------------------------


async def test_readyz_and_metrics_are_admin_only_cached_and_discreet(
    store: Store, sandbox: RunningSandbox, database_url: str
) -> None:
    async with serving(store, sandbox_config(sandbox)) as client:
        for path in ("/readyz", "/metrics"):
            assert (await client.get(path)).status == 404
        for resp in (await client.get("/healthz"), await client.admin.get("/metrics")):
            assert "Server" not in resp.headers
        answers = await asyncio.gather(*(client.admin.get("/readyz") for _ in range(20)))
        assert {r.status for r in answers} == {200}
        readiness = client.admin.listener.app[READINESS]
        assert readiness.checks == 1  # 20 requests, one database check

    async with refusable_role(database_url) as role:
        refusing = await Store.open_url(role.url, migrate=False)
        try:
            await role.refuse()
            async with serving(refusing, sandbox_config(sandbox)) as client:
                resp = await client.admin.get("/readyz")
                text = await resp.text()
                assert resp.status == 503
                assert json.loads(text)["reasons"] == ["database unavailable"]
                for leak in ("127.0.0.1", "5432", database_url.rsplit("/", 1)[1], role.url.split("@")[0]):
                    assert leak not in text
        finally:
            await role.allow()
            await refusing.close()


async def test_a_burst_of_connections_waits_in_the_kernel_queue_rather_than_being_dropped(
    store: Store, sandbox: RunningSandbox
) -> None:
    # While the loop is busy (here: blocked on purpose), new connections queue in the kernel. With
    # asyncio's queue of 128 the rest would be dropped, and their clients (the provider's, the
    # probe's) retry only a second later.
    import socket

    async with serving(store, sandbox_config(sandbox)) as client:
        port = client.listener.port
        sockets = []
        try:
            for _ in range(250):  # more than asyncio queues, fewer than max_connections (256)
                sock = socket.socket()
                sock.setblocking(False)
                sock.connect_ex(("127.0.0.1", port))
                sockets.append(sock)
            connected = 0
            for sock in sockets:
                sock.settimeout(0.5)
                try:
                    sock.getpeername()  # raises until the handshake completed
                    connected += 1
                except OSError:
                    pass
            assert connected == 250

            async def all_accepted() -> bool:
                return client.listener.open_connections == 250

            await wait_for(all_accepted, 10, "the queued connections to be accepted")
        finally:
            for sock in sockets:
                sock.close()

        async def all_gone() -> bool:
            return client.listener.open_connections == 0

        await wait_for(all_gone, 10, "the closed connections to be let go")
