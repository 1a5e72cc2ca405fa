"""The daemon as it runs in production: carrying campaigns, receipts, shared limits, SIGTERM, kill -9.

Daemons run as `campaigner daemon` subprocesses (or in-process for the burst test) against the real
sandbox, which this test's event loop serves and which calls back the daemons' webhook routes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from campaigner.app.daemon import Daemon
from campaigner.config import config_from_mapping
from campaigner.sandbox import RunningSandbox
from campaigner.store.store import Store
from tests.builders import create_running_campaign, numbers
from tests.dispatch_helpers import API_KEY_ENV, WEBHOOK_SECRET_ENV, wait_for
from tests.fixtures.db import refusable_role
from tests.fixtures.sandbox import ExternalSandbox, MakeSandbox, external_sandbox

ROOT = Path(__file__).resolve().parents[2]
KEY = "17|sandbox-full-access-key"
SECRET = "sandbox-webhook-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def daemon_settings(
    sandbox: RunningSandbox | ExternalSandbox, database_url: str, port: int
) -> dict[str, object]:
    s = sandbox.settings
    return {
        "database": {"url": database_url},
        "provider": {
            "type": "cliqtel",
            "base_url": sandbox.cliqtel_url,
            "api_key_env": API_KEY_ENV,
            "webhook_secret_env": WEBHOOK_SECRET_ENV,
            "sender": "+3197010203040",
            "requests_per_minute": s.requests_per_minute * 60 / s.request_window,
            "request_window": s.request_window,
            "messages_per_second": s.messages_per_second / s.message_window,
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            # Three daemons, the sandbox, PostgreSQL and pytest on two cores: scheduling delays reach
            # tens of ms, more than a production host's, so these daemons keep twice the default slack.
            "window_margin": 0.1,
        },
        "dispatcher": {"worker_timeout": 1.0, "heartbeat_interval": 0.3, "poll_interval": 0.3},
        "daemon": {
            "host": "127.0.0.1",
            "port": port,
            "public_url": f"http://127.0.0.1:{port}",
            "grace_period": 5.0,
            "admin_port": admin_port(port),
        },
    }


_ADMIN_PORTS: dict[int, int] = {}


def admin_port(port: int) -> int:
    """The admin listener's port (/readyz, /metrics) of the daemon serving webhooks on `port`."""
    if port not in _ADMIN_PORTS:
        _ADMIN_PORTS[port] = free_port()
    return _ADMIN_PORTS[port]


def write_toml(path: Path, settings: dict[str, object]) -> Path:
    lines = []
    for section, values in settings.items():
        lines.append(f"[{section}]")
        for key, value in values.items():  # type: ignore[attr-defined]
            lines.append(f"{key} = {value!r}".replace("'", '"'))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def start_daemon(config: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "CAMPAIGNER_CONFIG": str(config), API_KEY_ENV: KEY, WEBHOOK_SECRET_ENV: SECRET}
    env.pop("CAMPAIGNER_DATABASE_URL", None)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "campaigner", "daemon", cwd=ROOT, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as reply:
        return reply.status, await reply.text()


async def until_up(port: int) -> None:
    async def up() -> bool:
        try:
            return (await get(f"http://127.0.0.1:{port}/healthz"))[0] == 200
        except aiohttp.ClientError:
            return False

    await wait_for(up, 20, f"the daemon on port {port}")


async def counts(url: str, campaign_id: int) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT state, count(*) FROM jobs WHERE campaign_id = $1 GROUP BY state", campaign_id
        )
    finally:
        await conn.close()
    return {r[0]: r[1] for r in rows}


async def test_daemon_carries_a_campaign_and_its_receipts_then_burst_mode_exits(
    store: Store, database_url: str, make_sandbox: MakeSandbox
) -> None:
    os.environ[API_KEY_ENV], os.environ[WEBHOOK_SECRET_ENV] = KEY, SECRET
    sandbox = await make_sandbox(requests_per_minute=600, request_window=6.0, messages_per_second=100)
    port = free_port()
    config = config_from_mapping(daemon_settings(sandbox, database_url, port), source="<test>")
    campaign_id = await create_running_campaign(store, numbers(30))

    async def delivered() -> bool:
        return (await store.job_counts(campaign_id)).get("delivered", 0) == 30

    daemon = Daemon(config)
    task = asyncio.create_task(daemon.run())
    await wait_for(delivered, 30, "30 delivery receipts through the daemon's webhook route")
    daemon.stop()
    await asyncio.wait_for(task, 20)
    assert [r.state for r in daemon.reports] == ["completed"]
    assert sandbox.state.snapshot()["duplicates"] == {}

    # With nothing left to carry, a burst daemon exits by itself.
    await asyncio.wait_for(Daemon(config, burst=True).run(), 20)


async def test_daemon_settles_jobs_left_sending_in_a_cancelled_campaign(
    store: Store, database_url: str, make_sandbox: MakeSandbox
) -> None:
    os.environ[API_KEY_ENV], os.environ[WEBHOOK_SECRET_ENV] = KEY, SECRET
    sandbox = await make_sandbox(requests_per_minute=600, request_window=6.0, messages_per_second=100)
    config = config_from_mapping(daemon_settings(sandbox, database_url, free_port()), source="<test>")
    campaign_id = await create_running_campaign(store, numbers(10))
    # A dispatcher that died mid-send holds three jobs; then the campaign is cancelled.
    left = await store.claim_jobs(campaign_id, "gone:1:dead", 3, 60.0)
    await store.cancel_campaign(campaign_id)
    assert (await store.job_counts(campaign_id)) == {"sending": 3, "cancelled": 7}

    # A burst daemon carries nothing running, but settles them (the sandbox has none: cancelled).
    daemon = Daemon(config, burst=True)
    await asyncio.wait_for(daemon.run(), 30)
    assert (await store.job_counts(campaign_id)) == {"cancelled": 10}
    assert [r.state for r in daemon.reports] == ["cancelled"]
    assert sandbox.state.snapshot()["accepted_messages"] == 0 and len(left) == 3


async def test_receipts_missed_while_no_daemon_was_up_are_caught_up_without_webhooks(
    store: Store, database_url: str, make_sandbox: MakeSandbox
) -> None:
    os.environ[API_KEY_ENV], os.environ[WEBHOOK_SECRET_ENV] = KEY, SECRET
    sandbox = await make_sandbox(requests_per_minute=600, request_window=6.0, messages_per_second=100)
    settings = daemon_settings(sandbox, database_url, free_port())
    # No public URL: Cliqtel is given no status_callback_url, so no receipt is ever pushed.
    settings["daemon"] = {**settings["daemon"], "public_url": "", "receipt_catch_up_after": 0.0,  # type: ignore[dict-item]
                          "receipt_catch_up_every": 3.0}  # fmt: skip
    config = config_from_mapping(settings, source="<test>")
    sender = config.model_copy(
        update={"daemon": config.daemon.model_copy(update={"receipt_catch_up_every": 3600.0})}
    )
    campaign_id = await create_running_campaign(store, numbers(200))
    await asyncio.wait_for(Daemon(sender, burst=True).run(), 60)  # sends them all, then exits
    assert await store.job_counts(campaign_id) == {"submitted": 200}

    async def all_final_at_the_provider() -> bool:
        statuses = [m.status for m in sandbox.state.store.messages]
        return len(statuses) == 200 and all(s in ("delivered", "failed") for s in statuses)

    await wait_for(all_final_at_the_provider, 30, "the sandbox to deliver")
    daemon = Daemon(config)
    task = asyncio.create_task(daemon.run())
    try:
        await daemon.started.wait()
        began = time.monotonic()

        async def caught_up() -> bool:
            counts = await store.job_counts(campaign_id)
            return counts.get("delivered", 0) + counts.get("undelivered", 0) == 200

        await wait_for(caught_up, 30, "every receipt caught up")
        assert time.monotonic() - began < 2 * 3.0  # within two catch-up intervals
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 20)


async def test_a_stop_read_by_polling_stops_the_sending_even_across_a_daemon_restart(
    store: Store, database_url: str, make_sandbox: MakeSandbox
) -> None:
    os.environ[API_KEY_ENV], os.environ[WEBHOOK_SECRET_ENV] = KEY, SECRET
    sandbox = await make_sandbox(requests_per_minute=600, request_window=6.0, messages_per_second=10)
    settings = daemon_settings(sandbox, database_url, free_port())
    settings["provider"] = {**settings["provider"], "inbound_poll_interval": 0.5}  # type: ignore[dict-item]
    config = config_from_mapping(settings, source="<test>")
    targets = numbers(100)
    campaign_id = await create_running_campaign(store, targets)

    async def texts(sender: str, body: str) -> None:  # stored and listed by the sandbox: no webhook
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{sandbox.url}/_sandbox/inbound", json={"from": sender, "body": body}):
                pass

    async def suppressed(e164: str) -> bool:
        return e164 in {s.e164 for s in await store.list_suppressions()}

    daemon = Daemon(config)
    task = asyncio.create_task(daemon.run())
    try:
        await wait_for(lambda: _some_submitted(store, campaign_id), 30, "the first sends")
        await texts(targets[-1], "STOP")
        await wait_for(lambda: suppressed(targets[-1]), 10, "the STOP to be polled")
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 20)
    await texts(targets[-2], "stop")  # while no daemon is up
    daemon = Daemon(config)
    task = asyncio.create_task(daemon.run())
    try:
        async def completed() -> bool:
            return (await store.get_campaign(campaign_id)).state == "completed"

        await wait_for(completed, 60, "the campaign to complete")
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 20)
    sent_to = set(sandbox.state.snapshot(per_recipient=True)["per_recipient"])
    assert targets[-1] not in sent_to and targets[-2] not in sent_to
    assert sent_to == set(targets[:-2]) and sandbox.state.snapshot()["duplicates"] == {}
    counts = await store.job_counts(campaign_id)
    assert counts.get("skipped") == 2
    assert {(s.e164, s.reason, s.source) for s in await store.list_suppressions()} == {
        (targets[-1], "stop_reply", "inbound"),
        (targets[-2], "stop_reply", "inbound"),
    }


async def _some_submitted(store: Store, campaign_id: int) -> bool:
    counts = await store.job_counts(campaign_id)
    return counts.get("submitted", 0) + counts.get("delivered", 0) >= 5


async def test_daemon_outlives_a_database_outage_and_finishes_the_campaign_after_it(
    store: Store, database_url: str, make_sandbox: MakeSandbox
) -> None:
    os.environ[API_KEY_ENV], os.environ[WEBHOOK_SECRET_ENV] = KEY, SECRET
    sandbox = await make_sandbox(requests_per_minute=600, request_window=6.0, messages_per_second=20)
    port = free_port()
    recipients = numbers(80)  # 4 s at 20 msg/s
    campaign_id = await create_running_campaign(store, recipients)
    async with refusable_role(database_url) as role:
        config = config_from_mapping(daemon_settings(sandbox, role.url, port), source="<test>")
        daemon = Daemon(config)
        task = asyncio.create_task(daemon.run())
        try:

            async def some_sent() -> bool:
                return (await store.job_counts(campaign_id)).get("submitted", 0) >= 10

            async def not_ready() -> bool:
                return (await get(f"http://127.0.0.1:{admin_port(port)}/readyz"))[0] == 503

            await wait_for(some_sent, 20, "the first sends")
            await role.refuse()
            await wait_for(not_ready, 20, "/readyz to say 503 while the database refuses the daemon")
            assert not task.done(), "the daemon keeps serving through the outage"
            await role.allow()

            async def finished() -> bool:
                done = await store.job_counts(campaign_id)
                return done.get("pending", 0) == 0 and done.get("sending", 0) == 0

            await wait_for(finished, 60, "the campaign to finish once the database is back")
            assert (await get(f"http://127.0.0.1:{admin_port(port)}/readyz"))[0] == 200
        finally:
            daemon.stop()
            await asyncio.wait_for(task, 20)
    accepted = sandbox.state.snapshot(per_recipient=True)
    assert accepted["duplicates"] == {} and sorted(accepted["per_recipient"]) == sorted(recipients)


async def test_a_port_in_use_is_one_clear_error_before_the_provider_is_asked(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_toml(tmp_path / "d.toml", daemon_settings(sandbox, database_url, port))
        daemon = await start_daemon(config)
        _, err = await asyncio.wait_for(daemon.communicate(), 30)
    assert daemon.returncode == 2
    message = err.decode().strip().splitlines()
    assert message[-1].startswith(f"error: daemon: cannot listen on 127.0.0.1:{port}"), err.decode()
    assert "Traceback" not in err.decode()
    assert sandbox.state.snapshot()["requests"] == 0, "nothing asked of the provider"


async def test_three_daemons_share_the_limit_and_survive_a_kill(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    # 30 requests and 30 messages a second across all daemons, over a strict rolling window, counted
    # by a sandbox in its own process (as a real provider counts on its own machine).
    async with external_sandbox(
        requests_per_minute=300, request_window=10.0, messages_per_second=30
    ) as sandbox:
        ports = [free_port() for _ in range(3)]
        configs = [
            write_toml(tmp_path / f"d{i}.toml", daemon_settings(sandbox, database_url, port))
            for i, port in enumerate(ports)
        ]
        # The long version is benchmarks/partition.py; 240 is enough to kill one daemon mid-campaign.
        recipients = numbers(240)
        daemons = [await start_daemon(config) for config in configs]
        try:
            for port in ports:
                await until_up(port)
            campaign_id = await create_running_campaign(store, recipients)
            began = time.monotonic()

            async def a_third_sent() -> bool:
                done = await store.job_counts(campaign_id)
                return done.get("submitted", 0) + done.get("delivered", 0) >= 80

            await wait_for(a_third_sent, 30, "a third of the campaign")
            daemons[0].send_signal(signal.SIGKILL)
            await daemons[0].wait()

            async def finished() -> bool:
                done = await store.job_counts(campaign_id)
                return done.get("pending", 0) == 0 and done.get("sending", 0) == 0

            await wait_for(finished, 60, "the other daemons to finish the campaign")
            elapsed = time.monotonic() - began
        finally:
            for daemon in daemons[1:]:
                daemon.send_signal(signal.SIGTERM)
            for daemon in daemons[1:]:
                _out, err = await asyncio.wait_for(daemon.communicate(), 20)
                assert daemon.returncode == 0, err.decode()[-2000:]
        figures = await sandbox.stats()

    assert figures["duplicates"] == {}
    assert sorted(figures["per_recipient"]) == sorted(recipients)
    assert figures["rate_limits"]["requests"]["violations"] == 0, figures["rate_limits"]
    assert figures["rate_limits"]["messages"]["violations"] == 0, figures["rate_limits"]
    # 240 messages at 30/s is 8 s; the kill costs the dead daemon's claims: they are looked up once
    # its worker is silent for worker_timeout + request_bound (5 s here), not when their 60 s leases
    # run out, which this bound would catch.
    assert elapsed < 8 * 1.6 + 9, f"took {elapsed:.1f} s"


async def test_daemon_picks_up_new_campaigns_serves_health_and_stops_on_sigterm(
    store: Store, database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox(requests_per_minute=60, request_window=6.0, messages_per_second=10)
    port = free_port()
    daemon = await start_daemon(write_toml(tmp_path / "d.toml", daemon_settings(sandbox, database_url, port)))
    try:
        await until_up(port)
        assert (await get(f"http://127.0.0.1:{admin_port(port)}/readyz"))[0] == 200
        for private in ("/readyz", "/metrics"):  # not on the listener the provider reaches
            assert (await get(f"http://127.0.0.1:{port}{private}"))[0] == 404
        campaign_id = await create_running_campaign(store, numbers(40))  # NOTIFY wakes the daemon

        async def some_sent() -> bool:
            done = await store.job_counts(campaign_id)
            return done.get("submitted", 0) + done.get("delivered", 0) >= 5

        await wait_for(some_sent, 20, "the daemon to carry the new campaign")
        status, text = await get(f"http://127.0.0.1:{admin_port(port)}/metrics")
        assert status == 200
        families = {family.name for family in text_string_to_metric_families(text)}
        assert any("messages" in name for name in families), families
    finally:
        daemon.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        _out, err = await asyncio.wait_for(daemon.communicate(), 20)
    assert daemon.returncode == 0, err.decode()[-2000:]
    assert time.monotonic() - stopped_at < 6
    left = await counts(database_url, campaign_id)
    assert left.get("sending", 0) == 0, "in-flight work is finished or released on SIGTERM"
    assert sandbox.state.snapshot()["accepted_messages"] == left.get("submitted", 0) + left.get(
        "delivered", 0
    )
