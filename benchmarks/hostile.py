"""Hostile traffic against a working daemon: does it keep serving, sending and logging sanely?

A sandbox (its own process, at its scaled limits) and `campaigner daemon` (its own process, with
the 1,024 descriptors systemd gives a service) carry one campaign, while this script, for as long
as the campaign runs and at most `--seconds`:

- holds `--idle` idle connections to the webhook listener (some mid-way through a request head),
  opening a new one whenever the daemon closes one;
- floods the webhook routes with forged requests (64 KB JSON with a wrong signature, no signature,
  a 2 KB body nested 1,000 deep), malformed ones (garbage gzip, a body cut off mid-way, not HTTP)
  from `--flooders` concurrent clients;
- asks /healthz on both listeners every 0.2 s with a fresh connection and times the answers (from
  a process of its own, and from 127.0.0.1 while the attack comes from 127.0.0.2 and .3, as a
  provider and a probe would be other hosts than the attacker).

It prints /healthz latency (target < 100 ms, p99 and max), whether the campaign finished on time
(within 1.5x its ETA + 10 s), the count of 500 responses (target 0) and the daemon's log size
(target < 1 MB), each against its target; exit 0 when all are met.

    python benchmarks/hostile.py                    # about a minute
    python benchmarks/hostile.py --idle 2000 --recipients 900 --seconds 120

Not part of the test suite; loopback only; bounded in connections, requests and time. Needs
PostgreSQL on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

# Run as a script (python benchmarks/...): the repository root holds the benchmarks package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import API_KEY, create_database, drop_database, free_port, wait_for_sandbox
from benchmarks.crash_harness import CAMPAIGNER

SECRET = "hostile-webhook-secret"
HEALTH_TARGET_MS = 100.0
# The attack comes from other loopback addresses than the probes (as it would from other hosts).
IDLER = "127.0.0.2"
FLOODER = "127.0.0.3"
LOG_TARGET_BYTES = 1_000_000


@dataclass
class Tally:
    """What the attack and the probes saw."""

    statuses: Counter[int] = field(default_factory=Counter)
    dropped: int = 0  # connections the daemon closed or refused under us
    idle_opened: int = 0
    health_ms: dict[str, list[float]] = field(default_factory=lambda: {"http": [], "admin": []})
    health_failures: Counter[str] = field(default_factory=Counter)


def write_config(
    folder: Path, database_url: str, sandbox: int, port: int, admin: int, rpm: int, mps: int
) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f"""
[database]
url = "{database_url}"
[provider]
type = "cliqtel"
base_url = "http://127.0.0.1:{sandbox}/api/v1/sms"
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
port = {port}
admin_port = {admin}
public_url = "http://127.0.0.1:{port}"
grace_period = 10.0
"""
    )
    return config


def _systemd_limits() -> None:
    # What systemd gives a service (LimitNOFILE's soft default): the daemon must live within it.
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


async def hold_idle(port: int, stop: asyncio.Event, tally: Tally, n: int) -> None:
    """Hold `n` idle connections, reopening each one the daemon closes (after a breath)."""

    async def one(i: int) -> None:
        head = b"" if i % 2 else b"POST /webhooks/cliqtel/status HTTP/1.1\r\nHost: x\r\n"
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(IDLER, 0))
            except OSError:
                tally.dropped += 1
                await asyncio.sleep(0.5)
                continue
            tally.idle_opened += 1
            try:
                writer.write(head)
                stop_wait = asyncio.ensure_future(stop.wait())
                closed = asyncio.ensure_future(reader.read())
                await asyncio.wait({stop_wait, closed}, return_when=asyncio.FIRST_COMPLETED)
                stop_wait.cancel()
                closed.cancel()
            except OSError:
                pass
            finally:
                writer.close()
            await asyncio.sleep(0.2)

    await asyncio.gather(*(one(i) for i in range(n)))


def _forgeries() -> list[tuple[bytes, dict[str, str]]]:
    data = [{"id": str(i), "status": "delivered", "updated_at": "2025-01-01T10:00:00Z"} for i in range(900)]
    big = json.dumps({"event": "sms.status_updated", "data": data}).encode()[:65_000]
    deep = b"[" * 1000 + b"]" * 1000
    json_type = {"Content-Type": "application/json"}
    return [
        (big, {**json_type, "X-Cliqtel-Signature": "0" * 64}),
        (big, json_type),
        (deep, {**json_type, "X-Cliqtel-Signature": "0" * 64}),
        (b"\x1f\x8b garbage", {**json_type, "Content-Encoding": "gzip", "X-Cliqtel-Signature": "0" * 64}),
    ]


async def flood(port: int, stop: asyncio.Event, tally: Tally, flooders: int) -> None:
    """Forged and malformed requests from `flooders` clients, back to back."""
    url = f"http://127.0.0.1:{port}/webhooks/cliqtel/status"
    forgeries = _forgeries()

    async def cut_off() -> None:  # a body that stops half way, then a client that is not HTTP
        for data in (
            b"POST /webhooks/cliqtel/status HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"x" * 100,
            b"\x16\x03\x01\x02\x00 not http\r\n\r\n",
        ):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(FLOODER, 0))
                writer.write(data)
                if data.startswith(b"\x16"):
                    line = await asyncio.wait_for(reader.readline(), 5)
                    if line.startswith(b"HTTP/"):
                        tally.statuses[int(line.split()[1])] += 1
                writer.close()
            except (OSError, TimeoutError, ValueError, IndexError):
                tally.dropped += 1

    async def client(k: int) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        connector = aiohttp.TCPConnector(local_addr=(FLOODER, 0))
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            i = k
            while not stop.is_set():
                i += 1
                if i % 10 == 0:
                    await cut_off()
                    continue
                body, headers = forgeries[i % len(forgeries)]
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        await resp.read()
                        tally.statuses[resp.status] += 1
                except (aiohttp.ClientError, OSError, TimeoutError):
                    tally.dropped += 1
                    await asyncio.sleep(0.05)

    await asyncio.gather(*(client(k) for k in range(flooders)))


async def _probe(ports: dict[str, int], stop: Any) -> dict[str, Any]:
    """GET /healthz on each listener every 0.2 s, each time on a new connection, until `stop`."""
    times: dict[str, list[float]] = {name: [] for name in ports}
    failures: Counter[str] = Counter()
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(force_close=True)) as s:
        while not stop.is_set():
            for name, port in ports.items():
                began = time.perf_counter()
                try:
                    async with s.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        await resp.read()
                        ok = resp.status == 200
                except (aiohttp.ClientError, OSError, TimeoutError):
                    ok = False
                if ok:
                    times[name].append((time.perf_counter() - began) * 1000)
                else:
                    failures[name] += 1
            await asyncio.sleep(0.2)
    return {"times": times, "failures": dict(failures)}


def probe_process(ports: dict[str, int], stop: Any, results: Any) -> None:
    """The probe in a process of its own: the attack's event loop must not delay its timing."""
    results.put(asyncio.run(_probe(ports, stop)))


async def jobs(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT state, count(*) FROM jobs GROUP BY state")
    finally:
        await conn.close()
    return {r[0]: r[1] for r in rows}


async def attack(
    args: argparse.Namespace, database_url: str, port: int, admin: int, eta: float
) -> tuple[Tally, float | None]:
    tally = Tally()
    stop = asyncio.Event()
    context = multiprocessing.get_context("spawn")
    probe_stop, probe_results = context.Event(), context.Queue()
    prober = context.Process(
        target=probe_process, args=({"http": port, "admin": admin}, probe_stop, probe_results)
    )
    prober.start()
    tasks = [
        asyncio.create_task(hold_idle(port, stop, tally, args.idle)),
        asyncio.create_task(flood(port, stop, tally, args.flooders)),
    ]
    began = time.monotonic()
    finished: float | None = None
    try:
        while time.monotonic() - began < args.seconds:
            await asyncio.sleep(1.0)
            states = await jobs(database_url)
            if states and not states.get("pending") and not states.get("sending"):
                finished = time.monotonic() - began
                break
            print(
                f"{time.monotonic() - began:5.0f} s  jobs {states}  idle opened {tally.idle_opened}  "
                f"answers {dict(tally.statuses)}  dropped {tally.dropped}",
                flush=True,
            )
    finally:
        stop.set()
        probe_stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
        probed = await asyncio.to_thread(probe_results.get, True, 30)
        prober.join(10)
    tally.health_ms = probed["times"]
    tally.health_failures = Counter(probed["failures"])
    return tally, finished


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=2000, help="idle connections held")
    parser.add_argument("--flooders", type=int, default=8, help="concurrent forged/malformed clients")
    parser.add_argument("--recipients", type=int, default=600)
    parser.add_argument("--rpm", type=int, default=300, help="requests per 10 s window (sandbox and daemon)")
    parser.add_argument("--mps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=90.0, help="the most the attack lasts")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.idle + 1024)), hard))

    name, database_url = asyncio.run(create_database("campaigner_hostile"))
    sandbox_port, port, admin = free_port(), free_port(), free_port()
    eta = args.recipients / min(args.mps, args.rpm / 10)
    with tempfile.TemporaryDirectory(prefix="campaigner-hostile-") as tmp:
        folder = Path(tmp)
        config = write_config(folder, database_url, sandbox_port, port, admin, args.rpm, args.mps)
        env = {**os.environ, "CAMPAIGNER_CONFIG": str(config), "CLIQTEL_API_KEY": API_KEY,
               "CLIQTEL_WEBHOOK_SECRET": SECRET}  # fmt: skip
        env.pop("CAMPAIGNER_DATABASE_URL", None)
        sandbox = subprocess.Popen(
            [*CAMPAIGNER, "sandbox", "--port", str(sandbox_port), "--rpm", str(args.rpm),
             "--rpm-window", "10", "--mps", str(args.mps), "--webhook-secret", SECRET,
             "--balance", "100000", "--seed", "3"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        daemon = None
        log_path = folder / "daemon.log"
        try:
            wait_for_sandbox(sandbox_port, sandbox)
            subprocess.run([*CAMPAIGNER, "db", "upgrade"], env=env, check=True, capture_output=True)
            with log_path.open("w") as log_file:
                daemon = subprocess.Popen(
                    [*CAMPAIGNER, "daemon"],
                    env=env,
                    stdout=log_file,
                    stderr=log_file,
                    preexec_fn=_systemd_limits,
                )
            asyncio.run(_until_healthy(port))
            csv_file = folder / "c.csv"
            csv_file.write_text("phone\n" + "".join(f"+3161{i:07d}\n" for i in range(args.recipients)))
            created = subprocess.run(
                [*CAMPAIGNER, "create", str(csv_file), "-m", "Hostile: hello", "--format", "json"],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            campaign_id = json.loads(created.stdout)["id"]
            subprocess.run(
                [*CAMPAIGNER, "resume", str(campaign_id)], env=env, check=True, capture_output=True
            )
            tally, finished = asyncio.run(attack(args, database_url, port, admin, eta))
            daemon.send_signal(signal.SIGTERM)
            exit_code = daemon.wait(timeout=60)
            states = asyncio.run(jobs(database_url))
            log_bytes = log_path.stat().st_size
            log_lines = sum(1 for _ in log_path.open(errors="replace"))
        finally:
            if daemon is not None and daemon.poll() is None:
                daemon.kill()
            sandbox.terminate()
            sandbox.wait(timeout=10)
            asyncio.run(drop_database(name))

    deadline = eta * 1.5 + 10
    on_time = finished is not None and finished <= deadline
    errors_500 = tally.statuses[500]
    results = []
    for listener, values in tally.health_ms.items():
        worst = max(values, default=float("inf"))
        failures = tally.health_failures[listener]
        results.append((
            f"/healthz ({listener}) p50 {percentile(values, 0.5):.1f} ms  "
            f"p99 {percentile(values, 0.99):.1f} ms  max {worst:.1f} ms  "
            f"over {HEALTH_TARGET_MS:g} ms {sum(v >= HEALTH_TARGET_MS for v in values)}, "
            f"failed {failures} of {len(values) + failures}",
            f"< {HEALTH_TARGET_MS:g} ms, none failed",
            worst < HEALTH_TARGET_MS and failures == 0,
        ))  # fmt: skip
    results += [
        (f"campaign finished in {finished:.1f} s" if finished is not None else "campaign did not finish",
         f"<= {deadline:.0f} s (ETA {eta:.0f} s x 1.5 + 10)", on_time),
        (f"500 responses {errors_500} (answers {dict(sorted(tally.statuses.items()))}, "
         f"dropped {tally.dropped})", "0", errors_500 == 0),
        (f"daemon log {log_bytes:,} bytes, {log_lines} lines", f"< {LOG_TARGET_BYTES:,} bytes",
         log_bytes < LOG_TARGET_BYTES),
        (f"daemon exit {exit_code}, jobs {states}, idle connections opened {tally.idle_opened}", "exit 0",
         exit_code == 0),
    ]  # fmt: skip
    for what, target, ok in results:
        print(f"{'PASS' if ok else 'FAIL'}  {what}  (target {target})")
    return 0 if all(ok for _, _, ok in results) else 1


async def _until_healthy(port: int) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the daemon did not start")


if __name__ == "__main__":
    sys.exit(main())
