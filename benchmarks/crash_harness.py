"""Crash harness: kill -9 `campaigner run` at random moments, restart it, prove exactly once.

A campaign of `--recipients` numbers is sent through a standalone sandbox that also drops the reply
of a share of requests after storing the message (`--reply-lost-rate`). `--suppressed` of its numbers
are put on the suppression list after the campaign is loaded (so their jobs are pending and only the
claims can skip them). The dispatcher process is killed with SIGKILL `--kills` times at random
moments, restarted each time, and finally run to the end. Then the sandbox's own count must show
every other recipient accepted exactly once and no suppressed one at all, and every job must be
final in the database (`skipped` for the suppressed numbers).

    python benchmarks/crash_harness.py --kills 100

The test suite runs a short version (tests/acceptance/test_crash.py). Needs PostgreSQL on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

# Run as a script (python benchmarks/...): the repository root holds the benchmarks package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    API_KEY,
    create_database,
    drop_database,
    free_port,
    sandbox_stats,
    wait_for_sandbox,
)

CAMPAIGNER = [sys.executable, "-m", "campaigner"]


@dataclass
class HarnessResult:
    """What the harness saw."""

    recipients: int
    suppressed: int
    kills: int
    accepted: int
    duplicates: dict[str, int]
    missing: int
    suppressed_sent: int
    job_counts: dict[str, int]
    lost_replies: int
    window_violations: int
    seconds: float

    @property
    def ok(self) -> bool:
        final = set(self.job_counts) <= {"submitted", "delivered", "undelivered", "skipped"}
        skipped = self.job_counts.get("skipped", 0) == self.suppressed and self.suppressed_sent == 0
        exact = not self.duplicates and self.missing == 0
        return (
            exact
            and skipped
            and final
            and self.accepted == self.recipients - self.suppressed
            and (self.window_violations == 0)
        )


def numbers(count: int) -> list[str]:
    return [f"+316{20_000_000 + i:08d}" for i in range(count)]


def write_config(folder: Path, database_url: str, port: int, rpm: int, mps: int) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f"""
[database]
url = "{database_url}"
[provider]
type = "cliqtel"
base_url = "http://127.0.0.1:{port}/api/v1/sms"
api_key_env = "CLIQTEL_API_KEY"
sender = "+3197010203040"
requests_per_minute = {rpm * 6}
request_window = 10.0
messages_per_second = {mps}
connect_timeout = 1.0
read_timeout = 2.0
[dispatcher]
worker_timeout = 1.0
heartbeat_interval = 0.3
poll_interval = 0.2
lease_seconds = 30.0
""",
        encoding="utf-8",
    )
    return config


async def job_counts(database_url: str, campaign_id: int) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT state, count(*) FROM jobs WHERE campaign_id = $1 GROUP BY state", campaign_id
        )
    finally:
        await conn.close()
    return {row[0]: row[1] for row in rows}


def run_harness(
    recipients: int,
    kills: int,
    reply_lost_rate: float = 0.1,
    suppressed: int = 0,
    rpm: int = 200,
    mps: int = 200,
    seed: int = 7,
    min_run: float = 0.6,
    max_run: float = 2.5,
    log: Any = print,
) -> HarnessResult:
    """Run the whole harness; returns what it saw (the caller asserts or prints)."""
    rng = random.Random(seed)
    listed = set(rng.sample(numbers(recipients), suppressed))
    name, database_url = asyncio.run(create_database("campaigner_crash"))
    port = free_port()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="campaigner-crash-") as tmp:
        folder = Path(tmp)
        config = write_config(folder, database_url, port, rpm, mps)
        env = {**os.environ, "CAMPAIGNER_CONFIG": str(config), "CLIQTEL_API_KEY": API_KEY}
        env.pop("CAMPAIGNER_DATABASE_URL", None)
        sandbox = subprocess.Popen(
            [*CAMPAIGNER, "sandbox", "--port", str(port), "--rpm", str(rpm), "--rpm-window", "10",
             "--mps", str(mps), "--reply-lost-rate", str(reply_lost_rate), "--seed", str(seed)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for_sandbox(port)
            csv_file = folder / "recipients.csv"
            csv_file.write_text(
                "phone,name\n" + "".join(f"{n},N{i}\n" for i, n in enumerate(numbers(recipients)))
            )
            created = subprocess.run(
                [*CAMPAIGNER, "create", str(csv_file), "--message", "Hello {name}", "--format", "json"],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            campaign_id = int(json.loads(created.stdout)["id"])
            if listed:
                suppress = [*CAMPAIGNER, "suppress", "add", *sorted(listed)]
                subprocess.run(suppress, env=env, check=True, capture_output=True)
            subprocess.run(
                [*CAMPAIGNER, "resume", str(campaign_id)], env=env, check=True, capture_output=True
            )
            for kill in range(kills):
                runner = subprocess.Popen(
                    [*CAMPAIGNER, "run", str(campaign_id)], env=env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                try:
                    runner.wait(timeout=rng.uniform(min_run, max_run))
                    log(f"run {kill + 1}: finished by itself (exit {runner.returncode})")
                    break
                except subprocess.TimeoutExpired:
                    runner.send_signal(signal.SIGKILL)
                    runner.wait()
                counts = asyncio.run(job_counts(database_url, campaign_id))
                log(f"kill {kill + 1}/{kills}: {counts}")
            final = subprocess.run(
                [*CAMPAIGNER, "run", str(campaign_id)], env=env, capture_output=True, text=True, timeout=600
            )
            if final.returncode != 0:
                log(final.stderr[-2000:])
            stats = sandbox_stats(port)
            counts = asyncio.run(job_counts(database_url, campaign_id))
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=10)
            asyncio.run(drop_database(name))
    per_recipient: dict[str, int] = stats.get("per_recipient", {})
    return HarnessResult(
        recipients=recipients,
        suppressed=len(listed),
        kills=kills,
        accepted=stats["accepted_messages"],
        duplicates=stats["duplicates"],
        missing=len(set(numbers(recipients)) - listed - set(per_recipient)),
        suppressed_sent=len(listed & set(per_recipient)),
        job_counts=counts,
        lost_replies=int(stats.get("faults", {}).get("reply_lost", 0)),
        window_violations=sum(int(limit["violations"]) for limit in stats["rate_limits"].values()),
        seconds=time.monotonic() - began,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--reply-lost-rate", type=float, default=0.1)
    parser.add_argument("--suppressed", type=int, default=60, help="numbers listed after the load")
    parser.add_argument("--rpm", type=int, default=200, help="requests per 10 s window")
    parser.add_argument("--mps", type=int, default=200, help="messages per second")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = run_harness(
        args.recipients, args.kills, args.reply_lost_rate, args.suppressed, args.rpm, args.mps, args.seed
    )
    print(
        f"recipients {result.recipients}  suppressed {result.suppressed} (sent {result.suppressed_sent})  "
        f"kills {result.kills}  accepted {result.accepted}  "
        f"duplicates {len(result.duplicates)}  missing {result.missing}  lost replies {result.lost_replies}  "
        f"window violations {result.window_violations}  "
        f"jobs {result.job_counts}  {result.seconds:.0f} s  -> {'OK' if result.ok else 'FAILED'}"
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
