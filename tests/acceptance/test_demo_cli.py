"""`campaigner demo` on a configured database never touches real work (issue 14): its campaign and
rate schedule are the `demo` account's, an interrupted demo cancels its campaign, no daemon carries
a demo campaign and no `run` or `retry` sends one through the configured provider."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg

from campaigner.app.daemon import Daemon
from campaigner.config import DEMO_ACCOUNT, config_from_mapping
from campaigner.store.store import Store
from tests.acceptance.test_daemon import KEY, SECRET, daemon_settings, free_port
from tests.builders import create_running_campaign, numbers
from tests.dispatch_helpers import API_KEY_ENV, WEBHOOK_SECRET_ENV, wait_for
from tests.fixtures.sandbox import MakeSandbox

ROOT = Path(__file__).resolve().parents[2]


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGNER_")}
    return {**env, "CAMPAIGNER_DATABASE_URL": url, "CLIQTEL_API_KEY": KEY}


async def _campaigner(url: str, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "campaigner", *args, cwd=ROOT, env=_env(url),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


async def test_an_interrupted_demo_cancels_its_campaign_of_its_own_account(database_url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "campaigner", "demo", cwd=ROOT, env=_env(database_url),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    conn = await asyncpg.connect(database_url)
    try:

        async def sending() -> bool:
            if proc.returncode is not None:
                raise AssertionError(f"the demo ended early: {proc.returncode}")
            return bool(await conn.fetchval("SELECT count(*) FROM jobs WHERE state <> 'pending'"))

        await wait_for(sending, 60, "the demo's first messages")
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        text = out.decode() + err.decode()
        assert proc.returncode == 3, text
        campaign_id, account, state = await conn.fetchrow("SELECT id, provider_account, state FROM campaigns")
        assert (account, state) == (DEMO_ACCOUNT, "cancelled"), text
        assert f"its campaign {campaign_id} is cancelled" in text and "campaigner run" not in text
        # The demo's pacing is booked under its own account, never the configured one's.
        keys = [r[0] for r in await conn.fetch("SELECT key FROM rate_schedule")]
        assert keys and all(key.startswith(f"{DEMO_ACCOUNT}:") for key in keys), keys
    finally:
        await conn.close()

    # Neither run nor retry sends a demo campaign through the configured account.
    for command in ("run", "retry"):
        code, text = await _campaigner(database_url, command, str(campaign_id))
        assert code == 2, text
        assert f"provider account {DEMO_ACCOUNT!r}" in text and "does not have (accounts: default)" in text
        assert "Traceback" not in text


async def test_no_daemon_carries_a_demo_campaign(
    store: Store, database_url: str, make_sandbox: MakeSandbox
) -> None:
    os.environ[API_KEY_ENV], os.environ[WEBHOOK_SECRET_ENV] = KEY, SECRET
    sandbox = await make_sandbox()
    config = config_from_mapping(daemon_settings(sandbox, database_url, free_port()), source="<test>")
    campaign_id = await create_running_campaign(store, numbers(5))
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE campaigns SET provider_account = $1 WHERE id = $2", DEMO_ACCOUNT, campaign_id
        )
    finally:
        await conn.close()
    daemon = Daemon(config, burst=True)
    await asyncio.wait_for(daemon.run(), 20)  # nothing of its account to carry: it exits
    assert daemon.reports == [] and await store.job_counts(campaign_id) == {"pending": 5}
    assert sandbox.state.snapshot()["accepted_messages"] == 0
