"""Fairness between campaigns of one account in one process: what share of the rate each gets.

    .venv/bin/python benchmarks/fairness.py [--mps 20] [--big 3000] [--small 100] [--delay 3]
                                            [--fairness round_robin|priority] [--priority-small N]
                                            [--rpm 60000] [--batched N] [--two-processes]

A big campaign starts first, a small one `--delay` seconds later, both carried by one process as the
daemon carries them (one RunWiring: one provider client, one worker, one SharedThrottle, one runner
each). The sandbox runs as a process of its own at `--mps` messages a second (one recipient a
request; `--batched N`: Clickatell, the big campaign one text in batches of N, the small one
personalised, one a request). `--two-processes`: the small one is carried by a second RunWiring
(worker, SharedThrottle, FairShare of its own), as by another daemon. It prints how long the small
campaign took, the rate each campaign got while both had work, and the sandbox's window
violations; then the big campaign is stopped.
Each run gets a fresh database (dropped at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    API_KEY,
    create_database,
    drop_database,
    free_port,
    sandbox_stats,
    wait_for_sandbox,
)
from campaigner.app.wiring import RunWiring
from campaigner.config import config_from_mapping
from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.model.jobs import PlannedMessage
from campaigner.store.store import Store

API_KEY_ENV = "CAMPAIGNER_BENCH_SANDBOX_KEY"
PRICE = Decimal("0.008")


def rows(count: int, start: int, same_text: bool) -> list[PlannedMessage]:
    return [
        PlannedMessage(
            i + 2, f"+316{10_000_000 + start + i:08d}", "NL", "Same" if same_text else f"Hello {i}",
            "GSM-7", 1, PRICE, {},
        )
        for i in range(count)
    ]  # fmt: skip


async def create(
    store: Store, name: str, count: int, start: int, priority: int | None, same_text: bool = False
) -> int:
    extra: dict[str, Any] = {} if priority is None else {"priority": priority}
    spec = NewCampaign(name=name, message="Same" if same_text else "Hello {n}", **extra)
    totals = CampaignTotals(total_jobs=count, estimated_cost=PRICE * count, preview={})
    campaign_id = await store.create_campaign(spec, [rows(count, start, same_text)], lambda: totals)
    await store.resume_campaign(campaign_id)
    return campaign_id


def sent(counts: dict[str, int]) -> int:
    return sum(counts.get(state, 0) for state in ("submitted", "delivered", "undelivered"))


async def measure(args: argparse.Namespace) -> None:
    port = free_port()
    sandbox = subprocess.Popen(  # noqa: ASYNC220 (started once, before anything is measured)
        [sys.executable, "-m", "campaigner", "sandbox", "--port", str(port), "--rpm", str(args.rpm),
         "--rpm-window", "60", "--mps", str(args.mps), "--balance", "1000000000",
         "--sent-delay", "3600", "--delivered-delay", "3600"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_sandbox(port, sandbox)
    name, url = await create_database("campaigner_fair")
    store = await Store.open_url(url)
    os.environ[API_KEY_ENV] = API_KEY
    dispatcher: dict[str, Any] = {"poll_interval": 0.2}
    if args.fairness:
        dispatcher["fairness"] = args.fairness
    kind, path, per = (
        ("clickatell", "/clickatell", args.batched) if args.batched else ("cliqtel", "/api/v1/sms", 1)
    )
    config = config_from_mapping(
        {
            "provider": {
                "type": kind, "base_url": f"http://127.0.0.1:{port}" + path,
                "api_key_env": API_KEY_ENV, "sender": "+3197010203040", "recipients_per_request": per,
                "requests_per_minute": args.rpm, "messages_per_second": args.mps, "window_margin": 0.02,
            },
            "dispatcher": dispatcher,
        },
        source="<benchmark>",
    )  # fmt: skip
    wiring = RunWiring.build(store, config)
    try:
        big = await create(store, "big", args.big, 0, None, same_text=bool(args.batched))
        small = await create(store, "small", args.small, args.big, args.priority_small)
        await wiring.worker.start()
        big_runner = wiring.runner(big)
        big_task = asyncio.create_task(big_runner.run())
        await asyncio.sleep(args.delay)
        big_before = sent(await store.job_counts(big))
        began = time.monotonic()
        # --two-processes: the small one carried by a wiring of its own (its own worker, throttle
        # and share, as another daemon on the account would), paced by the same schedule.
        other = RunWiring.build(store, config) if args.two_processes else wiring
        if other is not wiring:
            await other.worker.start()
        small_task = asyncio.create_task(other.runner(small).run())
        await asyncio.wait_for(small_task, args.small / args.mps * 20 + 60)
        took = time.monotonic() - began
        big_during = sent(await store.job_counts(big)) - big_before
        big_runner.stop()
        await big_task
        if other is not wiring:
            await other.close()
        stats = await asyncio.to_thread(sandbox_stats, port)
    finally:
        await wiring.close()
        await store.close()
        sandbox.terminate()
        sandbox.wait(timeout=10)
        await drop_database(name)
    limits = stats["rate_limits"]
    small_rate = args.small / took
    print(
        f"fairness {args.fairness or '(none: before)'}, {args.mps} msg/s, {args.rpm} req/min, "
        f"big{f' in batches of {args.batched}' if args.batched else ''} {args.big} then small "
        f"{args.small} after {args.delay:g} s (priority {args.priority_small})"
        f"{', each in a process of its own' if args.two_processes else ''}:\n"
        f"  small finished in {took:.1f} s; while both ran: small {small_rate:.1f} msg/s "
        f"({small_rate / args.mps:.0%}), big {big_during / took:.1f} msg/s "
        f"({big_during / took / args.mps:.0%})\n"
        f"  sandbox violations: requests {limits['requests']['violations']}, messages "
        f"{limits['messages']['violations']}; busiest 1 s window {limits['messages']['max_in_window']}"
        f"/{args.mps}; duplicates {len(stats['duplicates'])}; load {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mps", type=int, default=20)
    parser.add_argument("--big", type=int, default=3000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--rpm", type=int, default=60_000, help="requests a minute")
    parser.add_argument("--batched", type=int, default=0, help="Clickatell, the big one in batches of N")
    parser.add_argument("--delay", type=float, default=3.0)
    parser.add_argument("--fairness", default="")
    parser.add_argument("--priority-small", type=int, default=None)
    parser.add_argument("--two-processes", action="store_true", help="the small one on a wiring of its own")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
