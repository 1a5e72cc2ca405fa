"""What the consent checks cost the claim: claim-jobs as it is (the `listed` CTE of migration 0013:
suppressions per sender scope, require_opt_in) against the plain suppression join it replaced.

    .venv/bin/python benchmarks/claim_listed.py [--rows 100000] [--batch 100] [--suppressed 0.01]

Loads two campaigns of `--rows` jobs each into a scratch database (dropped at the end), lists
`--suppressed` of their numbers, then drains both at once, one claim of `--batch` from each in
turn (so both see the same machine: this VM's speed changes by a third from minute to minute),
and prints claims/s of each and their ratio. A third campaign created with require_opt_in (half
its numbers with a recorded opt-in) is drained after, for its figure alone. Claims only: the
write-back is the same for both and measured by store_load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import create_database, drop_database
from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.store.database import sql
from campaigner.store.store import Store
from tests.builders import PRICE, message, numbers

# The claim before 0013: one join of the due jobs with the suppression list.
_NOW = sql("claim-jobs")
_START, _END = _NOW.index("), listed AS MATERIALIZED ("), _NOW.index("), skipped AS (")
BEFORE = (
    _NOW[:_START]
    + "), listed AS MATERIALIZED (\n    SELECT due.id, 'suppressed' AS code FROM due"
    + " JOIN suppressions s ON s.e164 = due.e164\n"
    + _NOW[_END:]
)


async def load(store: Store, recipients: list[str], require_opt_in: bool = False) -> int:
    spec = NewCampaign(name="bench", message="Hello", sender="+3197010203040")
    rows = [message(i + 2, e164, "Hello") for i, e164 in enumerate(recipients)]
    totals = CampaignTotals(total_jobs=len(rows), estimated_cost=PRICE * len(rows), preview={})
    campaign_id = await store.create_campaign(spec, [rows], lambda: totals, require_opt_in=require_opt_in)
    await store.resume_campaign(campaign_id)
    return campaign_id


async def claim(store: Store, text: str, campaign_id: int, batch: int) -> tuple[int, float]:
    began = time.perf_counter()
    rows = await store.db.pool.fetch(text, campaign_id, "bench", batch, 60.0, None, None)
    return len(rows), time.perf_counter() - began


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--suppressed", type=float, default=0.01)
    args = parser.parse_args()
    name, url = await create_database()
    try:
        store = await Store.open_url(url)
        try:
            people = numbers(args.rows)
            listed = people[:: max(1, round(1 / args.suppressed))] if args.suppressed > 0 else []
            await store.add_suppressions(listed, "bench", "bench")
            now = datetime.now(UTC)
            await store.import_consents([(e, now, "bench") for e in people[::2]])
            before, after = await load(store, people), await load(store, people)
            spent = {"before": 0.0, "after": 0.0}
            jobs = {"before": 0, "after": 0}
            while True:
                got_b, t_b = await claim(store, BEFORE, before, args.batch)
                got_a, t_a = await claim(store, sql("claim-jobs"), after, args.batch)
                spent["before"] += t_b
                spent["after"] += t_a
                jobs["before"] += got_b
                jobs["after"] += got_a
                if not got_a and not got_b:
                    break
            rate = {k: jobs[k] / spent[k] for k in spent}
            print(f"claims of {args.batch}, {args.rows:,} jobs, {len(listed):,} numbers listed:")
            print(f"  before 0013 (suppression join):        {rate['before']:,.0f} jobs/s")
            print(f"  0013 listed CTE (scope, require_opt_in): {rate['after']:,.0f} jobs/s")
            print(f"  ratio after / before: {rate['after'] / rate['before']:.2f} (target: within 0.80)")
            consent = await load(store, people, require_opt_in=True)
            count, seconds = 0, 0.0
            while True:
                got, t = await claim(store, sql("claim-jobs"), consent, args.batch)
                count, seconds = count + got, seconds + t
                if not got:
                    break
            print(f"  a require_opt_in campaign (half without opt-in): {count / seconds:,.0f} jobs/s")
        finally:
            await store.close()
    finally:
        await drop_database(name)


if __name__ == "__main__":
    asyncio.run(main())
