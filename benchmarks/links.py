"""Short links' speed: redirects a second on one core against a database of many codes, and the
cost of links when loading a campaign.

    .venv/bin/python benchmarks/links.py [--codes 10000000] [--requests 60000] [--connections 32]
                                         [--recipients 1000000] [--skip-load] [--skip-redirects]

Redirects: a scratch database (dropped at the end) gets `--codes` links by COPY, in campaigns of
1 M (as loads make them). The daemon's real public app (`build_http_app`: middlewares, the route,
its LRU cache and click buffer) is served by the daemon's Listener in a child process pinned to
one CPU; this process, on the other CPU, drives it over loopback with `--connections` keep-alive
HTTP/1.1 connections (a minimal client, so the server and not the client is measured). Three runs:
codes drawn at random from a sample of stored ones (the first request of each is a database
lookup, repeats come from the cache), then random codes nobody was given (each one a database
lookup and a negative cache entry: the flood an attacker can make), then the two mixed. Every
answered redirect is a click: after the server's clean stop, `link_clicks` must hold exactly the
302s counted (the flush on shutdown). Targets: ≥ 3,000 redirects/s, p99 ≤ 10 ms.

Load: `--recipients` rows of a CSV loaded by `load_campaign` (plan in worker processes + COPY in
one transaction), once with a message holding a short link (a per-recipient target from a column)
and once with the same message and a fixed URL in its place, each in a fresh database,
`--load-runs` times interleaved. Target: with links ≤ 1.5 × without. Each load also reports its
CPU seconds (this process, the planner's workers, the server's backends): on a shared machine
wall time follows the neighbours, the CPU ratio much less.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import create_database, drop_database, free_port
from campaigner.text.links import CodeSource

BASE_PATH = "/l"
SAMPLE = 100_000  # stored codes the hit runs draw from (within the daemon's default cache of 200 k)


# -- the server, in its own process on one CPU ---------------------------------------------------


def serve(url: str, port: int, cpu: int, ready: Any) -> None:
    """Run the daemon's public app on `port` until SIGTERM (then its clicks are flushed)."""
    os.sched_setaffinity(0, {cpu})
    os.environ["CAMPAIGNER_BENCH_KEY"] = "bench-key"
    import signal

    from campaigner.app.connections import Limits, Listener
    from campaigner.app.floods import FloodLog
    from campaigner.app.http import build_http_app
    from campaigner.config import config_from_mapping
    from campaigner.providers.registry import make_provider
    from campaigner.store.store import Store

    config = config_from_mapping(
        {
            "provider": {"api_key_env": "CAMPAIGNER_BENCH_KEY", "sender": "Bench"},
            "links": {"base_url": f"http://127.0.0.1:{port}{BASE_PATH}"},
            "daemon": {"max_connections": 1024},
        },
        source="<bench>",
    )

    async def main() -> None:
        import logging

        store = await Store.open_url(url, migrate=False)
        provider = make_provider(config.provider)
        floods = FloodLog(logging.getLogger("bench"))
        app = build_http_app(store, {config.provider.account: provider}, config, floods=floods)
        listener = await Listener.start(app, "127.0.0.1", port, Limits.of(config.daemon), floods, "http")
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        ready.set()
        await stop.wait()
        await listener.close()  # the app's cleanup flushes the click buffer
        await provider.close()
        await store.close()

    asyncio.run(main())


# -- the client ----------------------------------------------------------------------------------


async def drive(port: int, paths: list[str], connections: int) -> tuple[float, list[float], dict[int, int]]:
    """GET every path over `connections` keep-alive connections; (seconds, latencies, statuses)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(paths)

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for path in queue:
                began = time.perf_counter()
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: go.example.com\r\nUser-Agent: bench\r\n\r\n".encode()
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                latencies.append(time.perf_counter() - began)
                status = int(head[9:12])
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return time.perf_counter() - began, latencies, statuses


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (/proc), to give redirects per CPU-second:
    on a machine whose other work takes the cores, that is what one core could do."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- building the codes --------------------------------------------------------------------------


async def fill(url: str, count: int) -> list[str]:
    """COPY `count` links (campaigns of 1 M); returns a random sample of their codes."""
    source = CodeSource(8)
    sample: list[str] = []
    conn = await asyncpg.connect(url)
    made = 0
    began = time.perf_counter()
    try:
        campaign = 0
        while made < count:
            campaign += 1
            size = min(1_000_000, count - made)
            now = datetime.now(UTC)

            def records(
                size: int = size, campaign: int = campaign, now: datetime = now
            ) -> Iterator[tuple[object, ...]]:
                for line in range(size):
                    code = source.next()
                    if len(sample) < SAMPLE and random.random() < SAMPLE * 2 / count + 0.001:
                        sample.append(code)
                    target = f"https://shop.example.com/o/{line}"
                    yield (code, campaign, line + 2, "NL", "shop", target, now)

            # Random codes: a clash is possible (the caller fills again).
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "links",
                    records=records(),
                    columns=["code", "campaign_id", "line", "country", "name", "target", "created_at"],
                )
            made += size
            print(f"  {made:,} codes stored ({made / (time.perf_counter() - began):,.0f}/s)", flush=True)
        await conn.execute("ANALYZE links")
    finally:
        await conn.close()
    return sample


async def redirects(codes: int, requests: int, connections: int) -> dict[str, object]:
    from campaigner.store import migrations
    from campaigner.store.database import Database

    name, url = await create_database("campaigner_bench_links")
    try:
        db = await Database.open(url)
        await migrations.upgrade(db)
        await db.close()
        print(f"storing {codes:,} codes …", flush=True)
        while True:
            try:
                sample = await fill(url, codes)
                break
            except asyncpg.UniqueViolationError:
                print("  a code clashed: filling again", flush=True)
                conn = await asyncpg.connect(url)
                await conn.execute("TRUNCATE links")
                await conn.close()
        port = free_port()
        context = multiprocessing.get_context("spawn")
        ready = context.Event()
        server = context.Process(target=serve, args=(url, port, 0, ready))
        server.start()
        os.sched_setaffinity(0, {1 % os.cpu_count()})  # type: ignore[operator]
        if not ready.wait(60):
            raise RuntimeError("the server did not start")
        guesser = CodeSource(8)
        runs = {
            "hits": [f"{BASE_PATH}/{random.choice(sample)}" for _ in range(requests)],
            "unknown": [f"{BASE_PATH}/{guesser.next()}" for _ in range(requests)],
        }
        runs["mixed"] = [p for pair in zip(runs["hits"], runs["unknown"], strict=True) for p in pair][
            :requests
        ]
        await drive(port, runs["hits"][:2000], connections)  # warm up (and count those clicks too)
        redirected = 0
        out: dict[str, object] = {}
        for label, paths in runs.items():
            cpu_before = cpu_seconds(server.pid or 0)
            seconds, latencies, statuses = await drive(port, paths, connections)
            cpu = cpu_seconds(server.pid or 0) - cpu_before
            redirected += statuses.get(302, 0)
            figures = {
                "requests": len(paths),
                "per_second": round(len(paths) / seconds),
                "per_server_cpu_second": round(len(paths) / cpu) if cpu else None,
                "p50_ms": round(quantile(latencies, 0.50) * 1000, 2),
                "p99_ms": round(quantile(latencies, 0.99) * 1000, 2),
                "statuses": statuses,
            }
            out[label] = figures
            print(f"{label:>8}: {figures}", flush=True)
        redirected += 2000
        server.terminate()  # SIGTERM: a clean stop, the buffer flushed
        server.join(60)
        conn = await asyncpg.connect(url)
        try:
            stored = await conn.fetchval("SELECT count(*) FROM link_clicks")
            found = await conn.fetchval(
                "SELECT count(*) FROM links WHERE code = ANY($1::text[])", runs["unknown"]
            )
        finally:
            await conn.close()
        out["clicks_answered"], out["clicks_stored"], out["unknown_codes_found"] = redirected, stored, found
        print(
            f"clicks answered {redirected:,}, stored {stored:,}; guessed codes that exist: {found}",
            flush=True,
        )
        return out
    finally:
        await drop_database(name)


# -- the load ------------------------------------------------------------------------------------


def write_csv(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("phone,name,url\n")
        for i in range(count):
            handle.write(f"+316{10_000_000 + i:08d},P{i},https://shop.example.com/o/{i}?c=sms\n")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process on this machine (the database server's backend)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU seconds of this process and its reaped children (the planner's worker processes)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


async def load_once(csv: Path, message: str, links: tuple[tuple[str, str], ...]) -> tuple[float, float]:
    """Wall seconds of one load, and CPU seconds of it: this process, its planner workers and the
    server's backends (on a shared machine the CPU ratio is the steadier figure)."""
    from campaigner.app.loading import CampaignSource, load_campaign
    from campaigner.config import config_from_mapping
    from campaigner.store.store import Store

    config = config_from_mapping({"links": {"base_url": "https://go.example.com"}}, source="<bench>")
    name, url = await create_database("campaigner_bench_links")
    try:
        store = await Store.open_url(url)
        try:
            backends = [
                r["pid"]
                for r in await store.db.pool.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                )
            ]
            cpu = _own_cpu_seconds() + sum(_cpu_seconds(pid) for pid in backends)
            began = time.perf_counter()
            await load_campaign(
                store,
                config,
                CampaignSource(recipients=csv, message=message, message_source="m", links=links),
            )
            wall = time.perf_counter() - began
            cpu = _own_cpu_seconds() + sum(_cpu_seconds(pid) for pid in backends) - cpu
            return wall, cpu
        finally:
            await store.close()
    finally:
        await drop_database(name)


async def load(recipients: int, runs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "r.csv"
        write_csv(csv, recipients)
        plain, linked, plain_cpu, linked_cpu = [], [], [], []
        for _ in range(runs):  # interleaved: a busy spell of the machine hits both alike
            wall, cpu = await load_once(csv, "Hi {name}, your order: https://go.example.com/AbCd1234", ())
            plain.append(wall)
            plain_cpu.append(cpu)
            wall, cpu = await load_once(csv, "Hi {name}, your order: {link:o}", (("o", "{url}"),))
            linked.append(wall)
            linked_cpu.append(cpu)
            print(
                f"  load of {recipients:,}: without links {plain[-1]:.1f} s ({plain_cpu[-1]:.1f} CPU-s), "
                f"with {linked[-1]:.1f} s ({linked_cpu[-1]:.1f} CPU-s), "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    ratio = statistics.median(linked) / statistics.median(plain)
    cpu_ratio = statistics.median(linked_cpu) / statistics.median(plain_cpu)
    print(f"load: with links {ratio:.2f} × without (target ≤ 1.5 ×); CPU {cpu_ratio:.2f} ×", flush=True)
    return {
        "recipients": recipients,
        "without_s": plain,
        "with_s": linked,
        "ratio": round(ratio, 2),
        "cpu_ratio": round(cpu_ratio, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codes", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=60_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--load-runs", type=int, default=1)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-redirects", action="store_true")
    args = parser.parse_args()
    if not args.skip_redirects:
        result = asyncio.run(redirects(args.codes, args.requests, args.connections))
        for label in ("hits", "unknown", "mixed"):
            figures = result[label]
            assert isinstance(figures, dict)
            ok = figures["per_second"] >= 3000 and figures["p99_ms"] <= 10
            print(f"{label}: {figures['per_second']:,}/s p99 {figures['p99_ms']} ms "
                  f"(target ≥ 3,000/s, p99 ≤ 10 ms): {'met' if ok else 'NOT met'}")  # fmt: skip
        lost = result["clicks_answered"] != result["clicks_stored"]
        print(f"clicks: {'LOST SOME' if lost else 'every answered click stored'}")
    if not args.skip_load:
        asyncio.run(load(args.recipients, args.load_runs))


if __name__ == "__main__":
    main()
