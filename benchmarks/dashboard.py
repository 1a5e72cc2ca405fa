"""Dashboard speed: the campaign page of a 1M-job campaign among 50 others, and what live updates cost.

    .venv/bin/python benchmarks/dashboard.py [--jobs 1000000] [--campaigns 50] [--requests 20]

Creates a scratch database (dropped at the end) on the admin URL (CAMPAIGNER_TEST_ADMIN_URL, default
postgresql://postgres@127.0.0.1:5432/postgres), loads `--campaigns` small campaigns and one of
`--jobs` jobs through `Store.create_campaign` (COPY), moves 30 % of the big one's jobs on through
bulk UPDATEs (the job triggers count them as they count a dispatcher's writes: sending, then
submitted, most delivered with a latency, some rejected), serves the dashboard as the daemon does
(a guarded Listener on 127.0.0.1) and measures, over real HTTP:

- the campaign page of the big campaign (target: under 300 ms; the time is measured at the client,
  so it includes HTTP on loopback and is an upper bound of the server's);
- the campaigns list and the page's live update (live.json);
- the database queries one open page's live updates cost: a page polls once a second, and every
  query the store runs is counted (target: at most one a second).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import create_database, drop_database
from campaigner.app.connections import Limits, Listener
from campaigner.app.floods import FloodLog
from campaigner.app.web.server import build_web_app
from campaigner.config import Secret, config_from_mapping
from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.model.jobs import PlannedMessage
from campaigner.store.store import Store

PAGE_TARGET_MS = 300.0
QUERIES_PER_SECOND_TARGET = 1.0
TOKEN = "benchmark-token-0123456789"
PRICE = Decimal("0.008")
COUNTRIES = ("NL", "DE", "BE", "FR")


def rows(count: int, start: int, batch: int = 10_000) -> Iterator[list[PlannedMessage]]:
    out: list[PlannedMessage] = []
    for i in range(start, start + count):
        country = COUNTRIES[i % len(COUNTRIES)]
        out.append(PlannedMessage(i + 2, f"+316{i:08d}", country, f"Hi {i}", "GSM-7", 1, PRICE, {}))
        if len(out) == batch:
            yield out
            out = []
    if out:
        yield out


async def load(store: Store, name: str, count: int, start: int) -> int:
    cost = PRICE * count
    return await store.create_campaign(
        NewCampaign(name=name, message="Hi {n}"),
        rows(count, start),
        lambda: CampaignTotals(count, cost, {"sendable": count, "segments_total": count}),
    )


async def advance(store: Store, campaign_id: int, jobs: int) -> None:
    """Move the first 30 % of the campaign's jobs on, in slices (as many statements would)."""
    pool = store.db.pool
    low = await pool.fetchval("SELECT min(id) FROM jobs WHERE campaign_id = $1", campaign_id)
    moved = int(jobs * 0.3)
    step = 50_000
    for first in range(low, low + moved, step):
        last = min(first + step, low + moved) - 1
        await pool.execute(
            "UPDATE jobs SET state = 'sending', worker_id = 'bench', sending_at = now() "
            "WHERE campaign_id = $1 AND id BETWEEN $2 AND $3",
            campaign_id,
            first,
            last,
        )
        await pool.execute(
            "UPDATE jobs SET state = CASE WHEN id % 50 = 0 THEN 'rejected' ELSE 'submitted' END, "
            "error_code = CASE WHEN id % 50 = 0 THEN '21211' END, "
            "error_class = CASE WHEN id % 50 = 0 THEN 'recipient' END, "
            "submitted_at = CASE WHEN id % 50 = 0 THEN NULL ELSE now() END, worker_id = NULL "
            "WHERE campaign_id = $1 AND id BETWEEN $2 AND $3",
            campaign_id,
            first,
            last,
        )
        await pool.execute(
            "UPDATE jobs SET state = CASE WHEN id % 20 = 0 THEN 'undelivered' ELSE 'delivered' END, "
            "finished_at = submitted_at + make_interval(secs => (id % 40)) "
            "WHERE campaign_id = $1 AND id BETWEEN $2 AND $3 AND state = 'submitted' AND id % 10 <> 0",
            campaign_id,
            first,
            last,
        )
    await pool.execute("ANALYZE jobs")
    await pool.execute("UPDATE campaigns SET state = 'running' WHERE id = $1", campaign_id)


class Counting:
    """Counts every named query the store runs (one call = one statement)."""

    def __init__(self, store: Store) -> None:
        self.calls = 0
        for method in ("all", "one", "value", "execute"):
            original = getattr(store.db, method)
            setattr(store.db, method, self._wrap(original))

    def _wrap(self, original: Any) -> Any:
        async def counted(name: str, *args: Any) -> Any:
            self.calls += 1
            return await original(name, *args)

        return counted


async def timed(session: aiohttp.ClientSession, url: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        began = time.perf_counter()
        async with session.get(url) as resp:
            await resp.read()
            assert resp.status == 200, (url, resp.status)
        times.append((time.perf_counter() - began) * 1000)
    return times


def line(what: str, times: list[float], target: float | None = None) -> str:
    p50, worst = statistics.median(times), max(times)
    verdict = "" if target is None else ("  OK" if p50 < target else "  OVER")
    goal = "" if target is None else f"  (target < {target:.0f} ms)"
    return f"{what:<34} p50 {p50:7.1f} ms   max {worst:7.1f} ms{goal}{verdict}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--campaigns", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--poll-seconds", type=int, default=10)
    args = parser.parse_args()
    name, url = await create_database("campaigner_dashboard_bench")
    store = await Store.open_url(url)
    try:
        began = time.perf_counter()
        for i in range(args.campaigns):
            await load(store, f"small {i}", 1000, 10_000_000 + i * 1000)
        big = await load(store, "one million", args.jobs, 0)
        await advance(store, big, args.jobs)
        print(
            f"loaded {args.campaigns} campaigns of 1,000 and one of {args.jobs:,} jobs "
            f"(30 % moved on) in {time.perf_counter() - began:.0f} s"
        )

        config = config_from_mapping({}, source="<benchmark>")
        floods = FloodLog(logging.getLogger("benchmark"))
        app = build_web_app(store, config, Secret(TOKEN))
        listener = await Listener.start(app, "127.0.0.1", 0, Limits.of(config.daemon), floods, "api")
        base = f"http://127.0.0.1:{listener.port}"
        try:
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as session:
                async with session.get(f"{base}/login?token={TOKEN}") as resp:
                    assert resp.status == 200
                await timed(session, f"{base}/campaigns/{big}", 2)  # warm the caches once
                print(
                    line(
                        "campaign page (1M jobs)",
                        await timed(session, f"{base}/campaigns/{big}", args.requests),
                        PAGE_TARGET_MS,
                    )
                )
                print(
                    line(
                        f"campaigns list ({args.campaigns + 1})",
                        await timed(session, f"{base}/", args.requests),
                        PAGE_TARGET_MS,
                    )
                )
                print(
                    line(
                        "live update (live.json)",
                        await timed(session, f"{base}/campaigns/{big}/live.json", args.requests),
                    )
                )
                api = await timed(session, f"{base}/api/campaigns/{big}", args.requests)
                print(line("GET /api/campaigns/{id}", api, PAGE_TARGET_MS))

                # One open page: its script polls live.json once a second.
                counter = Counting(store)
                polls = 0
                start = time.monotonic()
                while time.monotonic() - start < args.poll_seconds:
                    tick = time.monotonic()
                    await timed(session, f"{base}/campaigns/{big}/live.json", 1)
                    polls += 1
                    await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
                elapsed = time.monotonic() - start
                rate = counter.calls / elapsed
                verdict = "OK" if rate <= QUERIES_PER_SECOND_TARGET + 1e-9 else "OVER"
                print(
                    f"{'live updates, one open page':<34} {counter.calls} queries in {polls} polls over "
                    f"{elapsed:.1f} s = {rate:.2f} queries/s  (target <= {QUERIES_PER_SECOND_TARGET:.0f}/s)  "
                    f"{verdict}"
                )
        finally:
            await listener.close()
            floods.close()
    finally:
        await store.close()
        await drop_database(name)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    asyncio.run(main())
