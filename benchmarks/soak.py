"""Soak: one `campaigner daemon` carrying several campaigns, with faults on, for `--minutes`.

A standalone sandbox (scaled limits; 5xx, 503, slow replies and replies lost after processing) and a
daemon receiving its signed receipts. A new campaign is handed to the daemon every `--every` seconds
(`create` + `resume`, as a user would with `send --detach`); every `--cancel-every`-th campaign is
cancelled `--cancel-after` seconds later, while its sends are in flight. At the end it waits for
every campaign to finish, stops the daemon with SIGTERM and prints: daemon memory at start and end,
messages accepted, duplicates, lost (recipients of campaigns not cancelled that were never
accepted), unrecorded (messages the provider has that no job records as sent), jobs left sending,
window violations, jobs not final.

    python benchmarks/soak.py --minutes 10

Not part of the test suite. Needs PostgreSQL on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
from benchmarks.crash_harness import CAMPAIGNER

SECRET = "soak-webhook-secret"


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_config(
    folder: Path, database_url: str, sandbox_port: int, daemon_port: int, rpm: int, mps: int
) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f"""
[database]
url = "{database_url}"
[provider]
type = "cliqtel"
base_url = "http://127.0.0.1:{sandbox_port}/api/v1/sms"
api_key_env = "CLIQTEL_API_KEY"
webhook_secret_env = "CLIQTEL_WEBHOOK_SECRET"
sender = "+3197010203040"
requests_per_minute = {rpm * 6}
request_window = 10.0
messages_per_second = {mps}
connect_timeout = 1.0
read_timeout = 3.0
[dispatcher]
worker_timeout = 2.0
heartbeat_interval = 0.5
[daemon]
host = "127.0.0.1"
port = {daemon_port}
public_url = "http://127.0.0.1:{daemon_port}"
grace_period = 10.0
""",
        encoding="utf-8",
    )
    return config


async def sent_numbers(database_url: str) -> set[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT e164 FROM jobs WHERE state IN ('submitted', 'delivered', 'undelivered')"
        )
    finally:
        await conn.close()
    return {r[0] for r in rows}


async def job_states(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT state, count(*) FROM jobs GROUP BY state")
    finally:
        await conn.close()
    return {r[0]: r[1] for r in rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between new campaigns")
    parser.add_argument("--recipients", type=int, default=600, help="recipients per campaign")
    parser.add_argument("--rpm", type=int, default=300, help="requests per 10 s window")
    parser.add_argument("--mps", type=int, default=30)
    parser.add_argument("--cancel-every", type=int, default=4, help="cancel every Nth campaign (0: none)")
    parser.add_argument("--cancel-after", type=float, default=5.0, help="seconds after its start")
    args = parser.parse_args()

    name, database_url = asyncio.run(create_database("campaigner_soak"))
    sandbox_port, daemon_port = free_port(), free_port()
    expected: set[str] = set()
    cancelled_numbers: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="campaigner-soak-") as tmp:
        folder = Path(tmp)
        config = write_config(folder, database_url, sandbox_port, daemon_port, args.rpm, args.mps)
        env = {
            **os.environ,
            "CAMPAIGNER_CONFIG": str(config),
            "CLIQTEL_API_KEY": API_KEY,
            "CLIQTEL_WEBHOOK_SECRET": SECRET,
        }
        env.pop("CAMPAIGNER_DATABASE_URL", None)
        faults = ["--fault-rate", "0.02", "--unavailable-rate", "0.03", "--reply-lost-rate", "0.03",
                  "--slow-rate", "0.02", "--slow-seconds", "1.5"]  # fmt: skip
        limits = ["--rpm", str(args.rpm), "--rpm-window", "10", "--mps", str(args.mps)]
        sandbox = subprocess.Popen(
            [*CAMPAIGNER, "sandbox", "--port", str(sandbox_port), *limits, *faults,
             "--webhook-secret", SECRET, "--balance", "100000", "--sent-delay", "0.5",
             "--delivered-delay", "1.0", "--seed", "11"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        daemon = None
        try:
            wait_for_sandbox(sandbox_port)
            subprocess.run([*CAMPAIGNER, "db", "upgrade"], env=env, check=True, capture_output=True)
            log_file = (folder / "daemon.log").open("w")
            daemon = subprocess.Popen([*CAMPAIGNER, "daemon"], env=env, stdout=log_file, stderr=log_file)
            time.sleep(3)
            memory_start = rss_mb(daemon.pid)
            began = time.monotonic()
            campaigns = 0
            while time.monotonic() - began < args.minutes * 60:
                numbers = [f"+316{(campaigns * args.recipients + i) % 90_000_000 + 10_000_000:08d}"
                           for i in range(args.recipients)]  # fmt: skip
                cancel = args.cancel_every > 0 and campaigns % args.cancel_every == args.cancel_every - 1
                (cancelled_numbers if cancel else expected).update(numbers)
                csv_file = folder / f"c{campaigns}.csv"
                csv_file.write_text("phone,name\n" + "".join(f"{n},N{i}\n" for i, n in enumerate(numbers)))
                created = subprocess.run(
                    [*CAMPAIGNER, "create", str(csv_file), "-m", f"Soak {campaigns}: hi {{name}}", "--format",
                     "json"],
                    env=env, capture_output=True, text=True, check=True,
                )  # fmt: skip
                campaign_id = json.loads(created.stdout)["id"]
                subprocess.run(
                    [*CAMPAIGNER, "resume", str(campaign_id)], env=env, check=True, capture_output=True
                )
                campaigns += 1
                states = asyncio.run(job_states(database_url))
                print(
                    f"{time.monotonic() - began:6.0f} s  campaign {campaign_id} started  jobs {states}",
                    flush=True,
                )
                if cancel:
                    time.sleep(args.cancel_after)
                    done = subprocess.run(
                        [*CAMPAIGNER, "cancel", str(campaign_id)], env=env, check=True, capture_output=True,
                        text=True,
                    )  # fmt: skip
                    print(f"{time.monotonic() - began:6.0f} s  {done.stdout.strip()}", flush=True)
                time.sleep(max(0.0, args.every - (args.cancel_after if cancel else 0.0)))
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                states = asyncio.run(job_states(database_url))
                if not states.get("pending") and not states.get("sending"):
                    break
                time.sleep(2)
            time.sleep(3)  # the last receipts
            memory_end = rss_mb(daemon.pid)
            daemon.send_signal(signal.SIGTERM)
            exit_code = daemon.wait(timeout=60)
            stats = sandbox_stats(sandbox_port)
            states = asyncio.run(job_states(database_url))
            recorded = asyncio.run(sent_numbers(database_url))
        finally:
            if daemon is not None and daemon.poll() is None:
                daemon.kill()
            sandbox.terminate()
            sandbox.wait(timeout=10)
            asyncio.run(drop_database(name))
    accepted = set(stats.get("per_recipient", {}) or {})
    per_recipient = stats.get("per_recipient")
    lost = len(expected - accepted) if per_recipient is not None else "?"
    unrecorded = len(accepted - recorded) if per_recipient is not None else "?"
    sending_left = states.get("sending", 0)
    violations = sum(int(limit["violations"]) for limit in stats["rate_limits"].values())
    not_final = sum(n for state, n in states.items() if state in ("pending", "sending", "submitted"))
    print(
        f"minutes {args.minutes:g}  campaigns {campaigns}  recipients {len(expected)}  "
        f"accepted {stats['accepted_messages']}  duplicates {len(stats['duplicates'])}  lost {lost}  "
        f"cancelled campaigns' recipients {len(cancelled_numbers)}  unrecorded {unrecorded}  "
        f"left sending {sending_left}  "
        f"window violations {violations}  faults {stats['faults']}  jobs {states} (not final {not_final})  "
        f"daemon RSS {memory_start:.0f} MB -> {memory_end:.0f} MB  exit {exit_code}"
    )
    ok = (
        not stats["duplicates"]
        and lost == 0
        and unrecorded == 0
        and sending_left == 0
        and violations == 0
        and exit_code == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
