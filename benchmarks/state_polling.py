"""Queries a second of a daemon carrying many campaigns, by named query.

    .venv/bin/python benchmarks/state_polling.py [--campaigns 50] [--seconds 10]

A real `Daemon` (its runners, housekeeping, heartbeats, the shared throttle) carries `--campaigns`
running campaigns of one account against a sandbox in a process of its own, paced at 5 messages a
second so that the runners mostly wait: what it asks of the database is then mostly what it asks to
watch the campaigns. Every named query the daemon runs is counted (a wrapper around the database
layer's `execute`/`one`/`all`/`value`: pg_stat_statements is not installed) over `--seconds` once
every campaign is carried, and printed per second, busiest first. Fresh database, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import API_KEY, create_database, drop_database, free_port, wait_for_sandbox
from campaigner.app.daemon import Daemon
from campaigner.config import config_from_mapping
from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.model.jobs import PlannedMessage
from campaigner.store import database
from campaigner.store.store import Store

API_KEY_ENV = "CAMPAIGNER_BENCH_SANDBOX_KEY"
SECRET_ENV = "CAMPAIGNER_BENCH_WEBHOOK_SECRET"
PRICE = Decimal("0.008")
COUNTED: Counter[str] = Counter()


def counting(method: Callable[..., Any]) -> Callable[..., Any]:
    async def wrapper(self: database.Runner, name: str, *args: Any) -> Any:
        COUNTED[name] += 1
        return await method(self, name, *args)

    return wrapper


async def measure(args: argparse.Namespace) -> None:
    for name in ("execute", "one", "all", "value"):
        setattr(database.Runner, name, counting(getattr(database.Runner, name)))
    port = free_port()
    sandbox = subprocess.Popen(  # noqa: ASYNC220 (started once, before anything is measured)
        [sys.executable, "-m", "campaigner", "sandbox", "--port", str(port), "--rpm", "60000",
         "--rpm-window", "60", "--mps", "5", "--balance", "1000000000",
         "--sent-delay", "3600", "--delivered-delay", "3600"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_sandbox(port, sandbox)
    name, url = await create_database("campaigner_polling")
    os.environ[API_KEY_ENV] = API_KEY
    os.environ[SECRET_ENV] = "bench-secret"
    store = await Store.open_url(url)
    totals = CampaignTotals(total_jobs=200, estimated_cost=PRICE * 200, preview={})
    try:
        for c in range(args.campaigns):
            rows = [
                PlannedMessage(
                    i + 2, f"+316{10_000_000 + c * 1000 + i:08d}", "NL", f"Hi {i}", "GSM-7", 1, PRICE, {}
                )
                for i in range(200)
            ]
            campaign_id = await store.create_campaign(
                NewCampaign(name=f"c{c}", message="Hi"), [rows], lambda: totals
            )
            await store.resume_campaign(campaign_id)
    finally:
        await store.close()
    config = config_from_mapping(
        {
            "database": {"url": url, "pool_max_size": 20},
            "provider": {
                "type": "cliqtel", "base_url": f"http://127.0.0.1:{port}/api/v1/sms",
                "api_key_env": API_KEY_ENV, "webhook_secret_env": SECRET_ENV, "sender": "+3197010203040",
                "requests_per_minute": 60000, "messages_per_second": 5,
            },
            "dispatcher": {"concurrency": 1, "batch_size": 1},
            "daemon": {"port": 0, "admin_port": 0},
        },
        source="<benchmark>",
    )  # fmt: skip
    daemon = Daemon(config)
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(daemon.started.wait(), 60)
        deadline = time.monotonic() + 60
        while len(daemon._runners) < args.campaigns and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        COUNTED.clear()
        began = time.monotonic()
        await asyncio.sleep(args.seconds)
        seconds = time.monotonic() - began
        counted = Counter(COUNTED)
        carried = len(daemon._runners)
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 60)
        sandbox.terminate()
        sandbox.wait(timeout=10)
        await drop_database(name)
    total = sum(counted.values())
    print(
        f"{carried} campaigns carried, {seconds:.1f} s: {total / seconds:.1f} queries/s "
        f"(load {os.getloadavg()[0]:.2f})"
    )
    for query, calls in counted.most_common():
        print(f"  {query:32} {calls / seconds:8.1f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--campaigns", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
