"""Where a claim's time goes with the frequency cap off and on (issue 16): EXPLAIN (ANALYZE,
BUFFERS, WAL) of claim-jobs, batch 100, in a scratch database (dropped at the end).

    .venv/bin/python benchmarks/claim_profile.py [--rows 20000] [--repeat 20]

A campaign of `--rows` numbers; each explained claim runs in a transaction rolled back, so every
repeat sees the same rows: cap off; cap on with new numbers (insert path); and, after a first
campaign has taken a slot for every number, cap on with numbers that have a row (update path).
Prints the median execution time of each and the plan of the last repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.claims import load
from benchmarks.store_load import ADMIN_URL, rows
from campaigner.model.jobs import FrequencyCap, JobResult
from campaigner.model.states import JobState
from campaigner.store.database import sql
from campaigner.store.store import Store


async def explain(
    conn: asyncpg.Connection, campaign: int, cap: tuple[object, ...], repeat: int
) -> tuple[float, str]:
    times = []
    plan = ""
    for _ in range(repeat):
        tr = conn.transaction()
        await tr.start()
        try:
            text = await conn.fetchval(
                "EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) " + sql("claim-jobs"),
                campaign,
                "prof",
                100,
                60.0,
                None,
                None,
                *cap,
            )
        finally:
            await tr.rollback()
        doc = json.loads(text)[0]
        times.append(doc["Execution Time"])
        plan = text
    return statistics.median(times), plan


def summary(plan: str) -> str:
    doc = json.loads(plan)[0]
    out = []

    def walk(node: dict, depth: int) -> None:
        name = node["Node Type"] + (f" {node.get('Relation Name', '')}" if "Relation Name" in node else "")
        cte = node.get("Subplan Name", "")
        out.append(
            f"{'  ' * depth}{name} {cte} time={node.get('Actual Total Time', 0):.2f}ms "
            f"rows={node.get('Actual Rows')} hit={node.get('Shared Hit Blocks')} "
            f"dirtied={node.get('Shared Dirtied Blocks')} "
            f"wal={node.get('WAL Records')}/{node.get('WAL Bytes')}B"
        )
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(doc["Plan"], 0)
    return "\n".join(out)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--plans", action="store_true")
    args = parser.parse_args()
    admin = await asyncpg.connect(ADMIN_URL)
    name = f"campaigner_prof_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    store = await Store.open_url(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", max_size=3)
    try:
        batches = list(rows(args.rows))
        first = await load(store, batches, args.rows)
        conn = await asyncpg.connect(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
        await conn.execute("VACUUM ANALYZE")
        for label, cap in (("off", (None, None, None)), ("on, new numbers", (1, 86400.0, "skip"))):
            ms, plan = await explain(conn, first, cap, args.repeat)
            print(f"cap {label:<22} {ms:.2f} ms/claim of 100")
            if args.plans:
                print(summary(plan))
        await store.register_worker("w", "prof", 1)
        while jobs := await store.claim_jobs(first, "w", 1000, 60, FrequencyCap(1, 86400.0)):
            results = [JobResult(j.id, JobState.SUBMITTED, provider_id="p") for j in jobs]
            await store.record_results("w", results)
        second = await load(store, batches, args.rows)
        await conn.execute("VACUUM ANALYZE")
        await asyncio.sleep(1.0)
        for label, cap in (("off (2nd)", (None, None, None)), ("on, numbers with a row", (1, 0.5, "skip"))):
            ms, plan = await explain(conn, second, cap, args.repeat)
            print(f"cap {label:<22} {ms:.2f} ms/claim of 100")
            if args.plans:
                print(summary(plan))
        await conn.close()
    finally:
        await store.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
