"""Claim throughput with the frequency cap off and on (issue 16: the cap may cost at most 20 %).

    .venv/bin/python benchmarks/claims.py [--rows 1000000] [--workers 2] [--rounds 1]

Each round, in a scratch database of its own (dropped at the end) with the real migrations: a
campaign of `--rows` distinct numbers is drained with `claim_jobs` + `record_results` (every job
submitted) in batches of 100, with the cap off; then the same in a second fresh database with the
cap on ("1/24h": every claim inserts the numbers' rows into recipient_caps, the first campaign of
an account); then a second campaign to the same numbers there with a cap whose window has passed
(every claim takes the update path: the number has a row, its slot is old). Printed for each: the
jobs claimed per second of time spent in claim-jobs itself, the whole drain's jobs/s, and the
server's CPU per job (the load of this shared machine changes the first two far more than the
third). The order of off and on alternates between rounds, so that a neighbour's burst does not
always land on the same side.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.store_load import ADMIN_URL, backend_cpu, rows
from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.model.jobs import FrequencyCap, JobResult, PlannedMessage
from campaigner.model.states import JobState
from campaigner.store.store import Store

BATCH = 100
TARGET = 0.20  # the cap may cost at most this much of the claim's throughput


@dataclass
class Figures:
    label: str
    jobs: int
    claim_seconds: float
    drain_seconds: float
    server_cpu: float

    @property
    def claims_per_second(self) -> float:
        return self.jobs / self.claim_seconds

    @property
    def drain_per_second(self) -> float:
        return self.jobs / self.drain_seconds

    def line(self) -> str:
        return (
            f"  {self.label:<26} {self.jobs:>9,} jobs: claim-jobs {self.claims_per_second:>8,.0f} jobs/s, "
            f"claim+write-back {self.drain_per_second:>7,.0f} jobs/s, "
            f"server CPU {1e6 * self.server_cpu / self.jobs:.1f} us/job"
        )


async def load(store: Store, batches: list[list[PlannedMessage]], count: int) -> int:
    campaign_id = await store.create_campaign(
        NewCampaign(name=f"claims {count}", message="Hi {name}"),
        batches,
        lambda: CampaignTotals(count, Decimal("0.008") * count, {}),
    )
    await store.set_campaign_state(campaign_id, "running")
    return campaign_id


async def drain(
    store: Store, admin: asyncpg.Connection, database: str, campaign_id: int, workers: int,
    cap: FrequencyCap | None, label: str,
) -> Figures:  # fmt: skip
    claim_time = [0.0]
    done = [0]

    async def worker(n: int) -> None:
        worker_id = f"claims-{n}"
        await store.register_worker(worker_id, "bench", os.getpid())
        while True:
            began = time.perf_counter()
            jobs = await store.claim_jobs(campaign_id, worker_id, BATCH, 60, cap)
            claim_time[0] += time.perf_counter() - began
            if not jobs:
                return
            results = [JobResult(j.id, JobState.SUBMITTED, provider_id=f"p{j.id}") for j in jobs]
            changed = await store.record_results(worker_id, results)
            assert changed == len(jobs), (changed, len(jobs))
            done[0] += changed

    server_before = await backend_cpu(admin, database)
    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(workers)))
    elapsed = time.perf_counter() - started
    server = await backend_cpu(admin, database) - server_before
    # Claim time summed over the workers: per worker, as one claimer sees it.
    return Figures(label, done[0], claim_time[0] / workers, elapsed, server)


async def scratch(admin: asyncpg.Connection, workers: int) -> tuple[str, Store]:
    name = f"campaigner_claims_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    store = await Store.open_url(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", max_size=workers + 2)
    return name, store


async def run_side(
    admin: asyncpg.Connection, batches: list[list[PlannedMessage]], args: argparse.Namespace, on: bool
) -> list[Figures]:
    """Two campaigns to the same numbers, one after the other, in a fresh database."""
    name, store = await scratch(admin, args.workers)
    side = "on" if on else "off"
    try:
        first = await load(store, batches, args.rows)
        cap = FrequencyCap(1, 86400.0) if on else None
        one = await drain(store, admin, name, first, args.workers, cap, f"cap {side}, 1st campaign")
        assert (await store.job_counts(first)) == {"submitted": args.rows}
        second = await load(store, batches, args.rows)
        # Every number has a row now; a window that has passed admits them all, by the update path.
        await asyncio.sleep(1.0)
        cap = FrequencyCap(1, 0.5) if on else None
        two = await drain(store, admin, name, second, args.workers, cap, f"cap {side}, 2nd campaign")
        assert (await store.job_counts(second)) == {"submitted": args.rows}
        return [one, two]
    finally:
        await store.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="concurrent claimers on the campaign")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    batches = list(rows(args.rows))
    admin = await asyncpg.connect(ADMIN_URL)
    results: dict[str, list[Figures]] = {}
    try:
        for round_no in range(args.rounds):
            print(f"round {round_no + 1}, batch {BATCH}, {args.workers} workers:")
            order = ["off", "on"] if round_no % 2 == 0 else ["on", "off"]
            for side in order:
                figures = await run_side(admin, batches, args, side == "on")
                for f in figures:
                    print(f.line(), flush=True)
                    results.setdefault(f.label, []).append(f)
    finally:
        await admin.close()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"medians over {args.rounds} round(s), cap on vs off (target: at most {TARGET:.0%} slower):")
    for which in ("1st", "2nd"):
        off, on = results[f"cap off, {which} campaign"], results[f"cap on, {which} campaign"]
        off_rate = statistics.median(f.claims_per_second for f in off)
        on_rate = statistics.median(f.claims_per_second for f in on)
        off_cpu = statistics.median(f.server_cpu / f.jobs for f in off)
        on_cpu = statistics.median(f.server_cpu / f.jobs for f in on)
        verdict = "OK" if on_rate >= (1 - TARGET) * off_rate else "OVER TARGET"
        print(
            f"  {which} campaign: claim-jobs off {off_rate:,.0f} jobs/s, on {on_rate:,.0f} jobs/s "
            f"({on_rate / off_rate - 1:+.1%}); server CPU per job {on_cpu / off_cpu - 1:+.1%}  {verdict}"
        )


if __name__ == "__main__":
    asyncio.run(main())
