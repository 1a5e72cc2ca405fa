"""One daemon carrying ten provider accounts (the suite's short version of benchmarks/many_accounts.py).

Each account is a sandbox of its own with its own limit (5 messages a second); one running campaign
each; one in-process Daemon with one [accounts.aN] section per account. Every message is sent once
through its own account, every receipt comes back through that account's own webhook route
(/webhooks/aN/status), no account ever asked its sandbox for more than its limit, each account got
its share while they ran together, and the daemon's database connections stayed within its pool.
"""

from __future__ import annotations

import asyncio
import os
import time

import asyncpg

from campaigner.app.daemon import Daemon
from campaigner.config import config_from_mapping
from campaigner.sandbox import RunningSandbox
from campaigner.store.store import Store
from tests.acceptance.test_daemon import KEY, SECRET, admin_port, free_port
from tests.builders import create_running_campaign
from tests.dispatch_helpers import API_KEY_ENV, WEBHOOK_SECRET_ENV, wait_for
from tests.fixtures.sandbox import MakeSandbox

ACCOUNTS = 10
PER_SECOND = 5
PER_ACCOUNT = 20
POOL = 4


def accounts_config(sandboxes: list[RunningSandbox], database_url: str, port: int) -> dict[str, object]:
    account = {
        "type": "cliqtel",
        "api_key_env": API_KEY_ENV,
        "webhook_secret_env": WEBHOOK_SECRET_ENV,
        "sender": "+3197010203040",
        "requests_per_minute": PER_SECOND * 60 * 4,
        "messages_per_second": PER_SECOND,
        "inbound_poll_interval": 0,
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "window_margin": 0.1,  # ten accounts, their sandboxes and PostgreSQL on two cores
    }
    return {
        # The application name tells the daemon's connections from the test's own.
        "database": {"url": database_url + "?application_name=many_accounts_daemon", "pool_max_size": POOL},
        "accounts": {f"a{i}": {**account, "base_url": sb.cliqtel_url} for i, sb in enumerate(sandboxes)},
        "dispatcher": {"worker_timeout": 1.0, "heartbeat_interval": 0.3, "poll_interval": 0.3},
        "daemon": {
            "host": "127.0.0.1",
            "port": port,
            "public_url": f"http://127.0.0.1:{port}",
            "admin_port": admin_port(port),
            "grace_period": 5.0,
        },
    }


def numbers_of(account: int) -> list[str]:
    return [f"+316{account * 1000 + i:08d}" for i in range(PER_ACCOUNT)]


async def test_one_daemon_carries_ten_accounts_each_within_its_own_limit(
    store: Store, database_url: str, make_sandbox: MakeSandbox
) -> None:
    os.environ[API_KEY_ENV], os.environ[WEBHOOK_SECRET_ENV] = KEY, SECRET
    sandboxes = [
        await make_sandbox(requests_per_minute=PER_SECOND * 60 * 4, messages_per_second=PER_SECOND)
        for _ in range(ACCOUNTS)
    ]
    config = config_from_mapping(accounts_config(sandboxes, database_url, free_port()), source="<test>")
    ids = [await create_running_campaign(store, numbers_of(i), account=f"a{i}") for i in range(ACCOUNTS)]
    watcher = await asyncpg.connect(database_url)
    daemon = Daemon(config)
    task = asyncio.create_task(daemon.run())
    most_connections = 0

    async def all_delivered() -> bool:
        nonlocal most_connections
        most_connections = max(
            most_connections,
            await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'many_accounts_daemon'"
            ),
        )
        counts = [await store.job_counts(campaign_id) for campaign_id in ids]
        if not all(c.get("delivered", 0) == PER_ACCOUNT for c in counts):
            return False
        # And each runner has seen its campaign through: a stop before that reports it running.
        states = [(await store.get_campaign(campaign_id)).state for campaign_id in ids]
        return states == ["completed"] * ACCOUNTS

    try:
        began = time.monotonic()
        await wait_for(all_delivered, 60, "every account's receipts through its own webhook route")
        elapsed = time.monotonic() - began
        spans = await watcher.fetch(
            """SELECT c.provider_account, count(*) AS sent,
                      extract(epoch FROM max(j.submitted_at) - min(j.submitted_at))::float AS span
               FROM jobs j JOIN campaigns c ON c.id = j.campaign_id
               WHERE j.campaign_id = ANY($1::bigint[]) GROUP BY c.provider_account""",
            ids,
        )
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 30)
        await watcher.close()

    assert sorted(r.state for r in daemon.reports) == ["completed"] * ACCOUNTS
    for i, sandbox in enumerate(sandboxes):
        figures = sandbox.state.snapshot(per_recipient=True)
        # Its own numbers only, each once: nothing crossed to another account's provider.
        assert figures["duplicates"] == {}, i
        assert sorted(figures["per_recipient"]) == sorted(numbers_of(i)), i
        messages = figures["rate_limits"]["messages"]
        assert messages["violations"] == 0, (i, messages)
        assert messages["max_attempted_in_window"] <= PER_SECOND, (i, messages)
    # All ran together, none starved: 20 messages at 5/s is 4 s for each, not 40 in turn.
    assert {r["provider_account"] for r in spans} == {f"a{i}" for i in range(ACCOUNTS)}
    for row in spans:
        assert (row["sent"] - 1) / row["span"] >= PER_SECOND * 0.5, dict(row)
    assert elapsed < PER_ACCOUNT / PER_SECOND * 4, f"took {elapsed:.1f} s"
    # One pool for all (and the NOTIFY listener holds one of its connections), however many accounts.
    assert 0 < most_connections <= POOL, most_connections
