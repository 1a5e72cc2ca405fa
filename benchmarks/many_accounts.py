"""Many accounts in one daemon: N provider accounts, one running campaign each, one `campaigner daemon`.

    .venv/bin/python benchmarks/many_accounts.py [--accounts 100] [--mps 5] [--seconds 30]
                                                 [--margin 0.02] [--no-receipts]
                                                 [--sandbox-processes 4]

Each account is a sandbox of its own (its own limits: `--mps` messages per second, requests not
binding), served by `--sandbox-processes` separate processes (so the sandboxes' CPU is not the
daemon's; one process alone stamps arrivals behind each other's work, 20-75 ms late at times). The
config has one `[accounts.aNNN]` section per account and no `[provider]`; one campaign per account
is sized for `--seconds` at its ceiling, created as drafts, then all made running at once while a
`campaigner daemon` (a subprocess, as an operator runs it) is up. Receipts come back through each
account's own webhook route (/webhooks/aNNN/status) unless `--no-receipts`.

Printed, against the targets of issue 18:
* aggregate rate: all messages / (last submission - first), against the sum of the ceilings (≥ 0.95);
  beside it the sum of every account's own rate (below), which leaves out how far apart the
  accounts started and ended;
* every account's own rate (its messages / its first-to-last span) against its ceiling (≥ 0.95: no
  account starves another), and its sandbox's busiest 1-s window and violations (0);
* database connections of the run's database, sampled every 0.25 s: the most at once, against the
  pool size (database.pool_max_size + the NOTIFY listener), which must not grow with N;
* transactions per message (pg_stat_database), the daemon's CPU per message and its memory per
  campaign (peak RSS while carrying them, less its RSS once ready with none).
Each account's window margin is `--margin` (0.02 s on loopback; the default 0.05 s holds a binding
1-s window to 1/1.05 = 0.952 of the ceiling).
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
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import API_KEY, create_database, drop_database, free_port, sandbox_stats
from campaigner.cli.commands.daemon import loop_factory
from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.model.jobs import PlannedMessage
from campaigner.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
API_KEY_ENV = "BENCH_ACCOUNTS_API_KEY"
SECRET_ENV = "BENCH_ACCOUNTS_WEBHOOK_SECRET"
SECRET = "sandbox-webhook-secret"  # the sandbox's default signing key
SENDER = "+3197010203040"  # every sandbox's default SMS number


# -- the sandboxes' process ------------------------------------------------------------------------


async def serve_sandboxes(count: int, mps: int, receipts: bool, ports_file: Path) -> None:
    """`count` sandboxes on free ports of 127.0.0.1; their ports go to `ports_file`; until SIGTERM."""
    from campaigner.heap import freeze_startup_objects
    from campaigner.sandbox import SandboxSettings, start_sandbox

    delays = (0.2, 0.5) if receipts else (3600.0, 3600.0)
    runners = []
    ports = []
    for _ in range(count):
        settings = SandboxSettings(
            requests_per_minute=mps * 60 * 4,  # never the binding limit: messages are
            messages_per_second=mps,
            balance=1e9,
            sent_delay=delays[0],
            delivered_delay=delays[1],
            callback_timeout=5.0,
        )
        runner, sandbox = await start_sandbox(settings)
        runners.append(runner)
        ports.append(sandbox.port)
    freeze_startup_objects()  # as `campaigner sandbox` does: no collector pause stamps a queue at once
    ports_file.write_text(json.dumps(ports), encoding="utf-8")  # noqa: ASYNC240  # once, at start
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()


def start_sandboxes(
    count: int, mps: int, receipts: bool, folder: Path, processes: int
) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    """`count` sandboxes over `processes` processes (as a provider's many front ends would be: one
    process stamping every account's arrivals queues them behind each other's work)."""
    shares = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    started = []
    for i, share in enumerate(s for s in shares if s):
        ports_file = folder / f"ports.{i}.json"
        args = [sys.executable, __file__, "--serve-sandboxes", str(share), "--mps", str(mps),
                "--ports-file", str(ports_file)] + ([] if receipts else ["--no-receipts"])  # fmt: skip
        started.append(
            (subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), ports_file)
        )
    deadline = time.monotonic() + 60
    ports: list[int] = []
    for process, ports_file in started:
        while not ports_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                for other, _file in started:
                    other.kill()
                raise RuntimeError("the sandboxes did not start")
            time.sleep(0.05)
        ports += json.loads(ports_file.read_text(encoding="utf-8"))
    return [process for process, _file in started], ports


# -- the daemon ------------------------------------------------------------------------------------


def write_config(
    folder: Path, url: str, ports: list[int], mps: int, margin: float, port: int, admin_port: int
) -> Path:
    lines = [
        "[database]", f'url = "{url}"',
        "[daemon]", 'host = "127.0.0.1"', f"port = {port}", f'public_url = "http://127.0.0.1:{port}"',
        f"admin_port = {admin_port}",
    ]  # fmt: skip
    for i, sandbox_port in enumerate(ports):
        lines += [
            f"[accounts.a{i:03d}]", 'type = "cliqtel"',
            f'base_url = "http://127.0.0.1:{sandbox_port}/api/v1/sms"',
            f'api_key_env = "{API_KEY_ENV}"', f'webhook_secret_env = "{SECRET_ENV}"', f'sender = "{SENDER}"',
            f"requests_per_minute = {mps * 60 * 4}", f"messages_per_second = {mps}",
            f"window_margin = {margin}", "inbound_poll_interval = 0",
        ]  # fmt: skip
    path = folder / "campaigner.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def proc_figures(pid: int) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of process `pid`, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


async def until_healthy(port: int, process: subprocess.Popen[bytes], within: float = 120) -> None:
    import aiohttp

    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as reply:
                    if reply.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the daemon did not start")
            await asyncio.sleep(0.1)


async def late_slots(admin_port: int) -> dict[str, float]:
    """The daemon's campaigner_throttle_late_slots_total by fate (moved, retaken), all accounts: a
    slot retaken is one a sender woke for too late to use (a busy loop), lost to its account."""
    import aiohttp

    fates: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{admin_port}/metrics") as reply:
            text = await reply.text()
    for line in text.splitlines():
        if line.startswith("campaigner_throttle_late_slots_total{"):
            labels, value = line.rsplit(" ", 1)
            fate = labels.split('fate="', 1)[1].split('"', 1)[0]
            fates[fate] = fates.get(fate, 0.0) + float(value)
    return fates


# -- one run ---------------------------------------------------------------------------------------


def _totals(totals: CampaignTotals) -> Callable[[], CampaignTotals]:
    return lambda: totals


def jobs_of(account: int, count: int) -> list[PlannedMessage]:
    return [
        PlannedMessage(
            i + 2, f"+316{account * 100_000 + i:08d}", "NL", f"Hello {i}", "GSM-7", 1, Decimal("0.008"), {}
        )
        for i in range(count)
    ]


async def run(
    accounts: int, mps: int, seconds: float, margin: float, receipts: bool, sandbox_processes: int
) -> dict[str, Any]:
    per_account = int(mps * seconds)
    folder = Path(tempfile.mkdtemp(prefix="many_accounts_"))
    sandboxes, ports = start_sandboxes(accounts, mps, receipts, folder, sandbox_processes)
    name, url = await create_database("campaigner_accounts")
    daemon: subprocess.Popen[bytes] | None = None
    try:
        store = await Store.open_url(url)
        ids = []
        for i in range(accounts):
            spec = NewCampaign(name=f"a{i:03d}", message="Hello", provider_account=f"a{i:03d}", sender=SENDER)
            totals = CampaignTotals(per_account, Decimal("0.008") * per_account, {})
            ids.append(await store.create_campaign(spec, [jobs_of(i, per_account)], _totals(totals)))
        await store.close()
        conn = await asyncpg.connect(url)
        await conn.execute("ANALYZE")
        port, admin_port = free_port(), free_port()
        config = write_config(folder, url, ports, mps, margin, port, admin_port)
        env = {**os.environ, "CAMPAIGNER_CONFIG": str(config), API_KEY_ENV: API_KEY, SECRET_ENV: SECRET}
        env.pop("CAMPAIGNER_DATABASE_URL", None)
        log_file = (folder / "daemon.log").open("wb")
        daemon = subprocess.Popen(  # noqa: ASYNC220  # the benchmark measures it, it does not await it
            [sys.executable, "-m", "campaigner", "daemon"], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=log_file,
        )  # fmt: skip
        await until_healthy(port, daemon)
        cpu_before, rss_ready = proc_figures(daemon.pid)
        xacts_before = await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", name
        )
        began = time.monotonic()
        await conn.execute("UPDATE campaigns SET state = 'running' WHERE id = ANY($1::bigint[])", ids)
        await conn.execute("NOTIFY campaigner_campaigns")
        most_connections, rss_peak = 0, rss_ready
        total = accounts * per_account
        while True:
            left = await conn.fetchval(
                "SELECT count(*) FROM campaigns WHERE id = ANY($1::bigint[]) AND state = 'running'", ids
            )
            connections = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name
            )
            most_connections = max(most_connections, connections)
            rss_peak = max(rss_peak, proc_figures(daemon.pid)[1])
            if left == 0:
                break
            if time.monotonic() - began > seconds * 4 + 120:
                raise RuntimeError(f"{left} campaigns still running after {time.monotonic() - began:.0f} s")
            await asyncio.sleep(0.25)
        cpu_after, _ = proc_figures(daemon.pid)
        late = await late_slots(admin_port)
        xacts = await conn.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = $1", name)
        spans = await conn.fetch(
            """SELECT c.provider_account, count(j.id) AS sent,
                      extract(epoch FROM max(j.submitted_at) - min(j.submitted_at)) AS span,
                      min(j.submitted_at) AS first, max(j.submitted_at) AS last
               FROM campaigns c JOIN jobs j ON j.campaign_id = c.id
               WHERE c.id = ANY($1::bigint[]) AND j.submitted_at IS NOT NULL
               GROUP BY c.provider_account ORDER BY c.provider_account""",
            ids,
        )
        states = dict(await conn.fetch("SELECT state, count(*) FROM jobs GROUP BY state"))
        await conn.close()
        stats = [await asyncio.to_thread(sandbox_stats, p) for p in ports]
    finally:
        if daemon is not None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
        for process in sandboxes:
            process.terminate()
        for process in sandboxes:
            process.wait(timeout=30)
        await drop_database(name)
    first = min(r["first"] for r in spans)
    last = max(r["last"] for r in spans)
    rates = {r["provider_account"]: (r["sent"] - 1) / float(r["span"]) for r in spans if r["span"]}
    return {
        "accounts": accounts, "mps": mps, "messages": total, "states": states,
        "aggregate": (total - 1) / (last - first).total_seconds(), "ceiling": accounts * mps,
        "rates": rates,
        "busiest": max(s["rate_limits"]["messages"]["max_in_window"] for s in stats),
        "violations": sum(s["rate_limits"]["messages"]["violations"] for s in stats),
        "rejected_429": sum(s["rate_limits"]["messages"]["rejected"] for s in stats),
        "duplicates": sum(len(s["duplicates"]) for s in stats),
        "connections": most_connections,
        "xacts_per_message": (xacts - xacts_before) / total,
        "cpu_ms_per_message": (cpu_after - cpu_before) * 1000 / total,
        "mb_per_campaign": (rss_peak - rss_ready) / 2**20 / accounts,
        "rss_ready_mb": rss_ready / 2**20, "rss_peak_mb": rss_peak / 2**20, "late": late,
        "load": os.getloadavg(),
    }  # fmt: skip


def describe(f: dict[str, Any], pool: int = 10) -> str:
    def mark(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    ceiling, mps = f["ceiling"], f["mps"]
    share = f["aggregate"] / ceiling
    summed = sum(f["rates"].values())
    worst = min(f["rates"].values()) / mps
    best = max(f["rates"].values()) / mps
    once = f["duplicates"] == 0 and sum(f["states"].values()) == f["messages"]
    lines = [
        f"{f['accounts']} accounts x {mps} msg/s, {f['messages']:,} messages, one daemon "
        f"(load average {f['load'][0]:.2f} {f['load'][1]:.2f} {f['load'][2]:.2f})",
        f"  aggregate {f['aggregate']:.1f} msg/s of {ceiling} = {share:.3f}  (target >= 0.95) "
        f"{mark(share >= 0.95)}",
        f"  sum of the accounts' own rates {summed:.1f} msg/s = {summed / ceiling:.3f} (the aggregate "
        f"above also counts the first account's head start and the last one's tail)",
        f"  per account {worst:.3f} .. {best:.3f} of its ceiling  (target each >= 0.95) "
        f"{mark(worst >= 0.95)}",
        f"  busiest 1-s window of any account {f['busiest']} (limit {mps}), violations {f['violations']}, "
        f"429s {f['rejected_429']}  {mark(f['violations'] == 0 and f['busiest'] <= mps)}",
        f"  exactly once: duplicates {f['duplicates']}, jobs {dict(f['states'])}  {mark(once)}",
        f"  database connections at most {f['connections']} (pool {pool} + listener)  "
        f"{mark(f['connections'] <= pool + 1)}",
        f"  {f['xacts_per_message']:.2f} transactions per message, "
        f"{f['cpu_ms_per_message']:.2f} ms daemon CPU per message, "
        f"{f['mb_per_campaign']:.2f} MB per campaign (RSS {f['rss_ready_mb']:.0f} MB ready, "
        f"{f['rss_peak_mb']:.0f} MB peak)",
        f"  slots woken for too late: {f['late'].get('retaken', 0):.0f} retaken (lost), "
        f"{f['late'].get('moved', 0):.0f} moved; {f['late'].get('retaken', 0) / f['messages']:.2f} lost "
        "per message",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--mps", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--margin", type=float, default=0.02)
    parser.add_argument("--no-receipts", action="store_true")
    parser.add_argument("--sandbox-processes", type=int, default=4)
    parser.add_argument("--serve-sandboxes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ports-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandboxes:
        serving = serve_sandboxes(args.serve_sandboxes, args.mps, not args.no_receipts, args.ports_file)
        with asyncio.Runner(loop_factory=loop_factory("auto")) as runner:  # uvloop where installed
            runner.run(serving)
        return 0
    receipts = not args.no_receipts
    figures = asyncio.run(
        run(args.accounts, args.mps, args.seconds, args.margin, receipts, args.sandbox_processes)
    )
    print(describe(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
