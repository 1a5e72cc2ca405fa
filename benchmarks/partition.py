"""Network partition: three daemons on three hosts, one PostgreSQL, one host cut off mid-campaign.

The hosts are network namespaces made here (`ip netns`, one veth pair each, a bridge in the root
namespace on 10.213.0.1/24): host1..3 at 10.213.0.11..13. A PostgreSQL cluster of its own (`initdb`
in a temporary folder) and the sandbox provider listen on the bridge address, so each daemon reaches
both only through its host's link. A campaign at the account's shared limit (`--mps`, one recipient
a request) is carried by the three daemons; once `--cut-at` of it is at the sandbox, host3's link is
cut (`ip link set <veth> down`: every packet lost, in flight or new, both ways: its daemon reaches
neither the database nor the provider), and restored `--down` seconds later.

Targets: every recipient accepted once at the sandbox (0 duplicates, 0 lost, every message recorded
on its job), no rolling 1 s window above the limit (the sandbox's own count and ours from its log),
the campaign completed by the other two, and host3 sending nothing after its return for a job it no
longer holds (the sandbox sees each request's client address). Also printed: time to finish, how
long the others took to take host3's jobs over, and what host3 did and logged on its return.

    sudo .venv/bin/python benchmarks/partition.py [--recipients 3000 --mps 50 --down 25]

Needs root (namespaces, links) and the PostgreSQL 15 binaries (/usr/lib/postgresql/15/bin). Everything
it makes (namespaces, links, processes, the cluster) is removed on exit, Ctrl-C or failure, and
whatever an aborted earlier run left is removed at start. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import contextvars
import fcntl
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

# Run as a script (python benchmarks/...): the repository root holds the benchmarks package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import API_KEY

NET = "10.213.0"
BRIDGE_IP = f"{NET}.1"
BRIDGE = "cpart-br"
HOSTS = 3
CUT = HOSTS  # the host whose link is cut
PG_BIN = Path("/usr/lib/postgresql/15/bin")
# What a run made, so that the next run can remove it if this one was killed before its cleanup.
LEFTOVERS = Path(tempfile.gettempdir()) / "campaigner-partition-leftovers.json"
LOCK = Path(tempfile.gettempdir()) / "campaigner-partition.lock"
VENV_BIN = Path(sys.executable).parent


def host_ip(i: int) -> str:
    return f"{NET}.{10 + i}"


def netns(i: int) -> str:
    return f"cpart-h{i}"


def veth(i: int) -> str:
    return f"cpart-v{i}"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')}  {message}", flush=True)


# -- the sandbox, with a log of who sent what ------------------------------------------------------


def serve_sandbox(host: str, port: int, mps: int, requests_per_minute: int) -> None:
    """The sandbox provider on host:port, plus GET /_partition/log: every request and every stored
    message with the client address it came from (the sandbox's own routes do not record it)."""
    from aiohttp import web

    from campaigner.sandbox.app import build_app
    from campaigner.sandbox.settings import SandboxSettings
    from campaigner.sandbox.state import Message, SandboxState

    client: contextvars.ContextVar[str] = contextvars.ContextVar("client", default="")
    requests: list[list[Any]] = []
    messages: list[tuple[float, str, str, int]] = []
    settings = SandboxSettings(
        requests_per_minute=requests_per_minute,
        request_window=60.0,
        messages_per_second=mps,
        message_window=1.0,
        seed=18,
    )
    state = SandboxState(settings)
    add = state.store.add

    def recording_add(**fields: Any) -> Message:
        message = add(**fields)
        if message.direction == "outbound":
            messages.append((message.created_at, client.get(), message.to, message.id))
        return message

    state.store.add = recording_add  # type: ignore[method-assign]

    @web.middleware
    async def remember_client(request: web.Request, handler: Any) -> web.StreamResponse:
        # Each request is handled in a task of its own: the store's add sees this value.
        client.set(request.remote or "")
        entry = [time.time(), request.remote or "", request.method, request.path, 0]
        requests.append(entry)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            entry[4] = exc.status
            raise
        entry[4] = response.status
        return response

    async def partition_log(_request: web.Request) -> web.Response:
        return web.json_response({"requests": requests, "messages": messages})

    app = build_app(state)
    app.middlewares.append(remember_client)
    app.router.add_get("/_partition/log", partition_log)
    web.run_app(app, host=host, port=port, access_log=None, print=None, handle_signals=True)


def http_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return dict(json.loads(reply.read()))


# -- what the run makes, and its removal ----------------------------------------------------------


@dataclass
class Made:
    """Everything this run made, removed by `cleanup` (idempotent; also at exit and on signals)."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    daemons: list[Daemon] = field(default_factory=list)
    done: bool = False

    def remember(self) -> None:
        LEFTOVERS.write_text(
            json.dumps({"pids": [p.pid for p in self.processes], "folders": [str(f) for f in self.folders]})
        )

    def add_process(self, process: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        self.processes.append(process)
        self.remember()
        return process

    def add_folder(self, folder: Path) -> Path:
        self.folders.append(folder)
        self.remember()
        return folder

    def cleanup(self) -> None:
        if self.done:
            return
        self.done = True
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        remove_network()
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)
        LEFTOVERS.unlink(missing_ok=True)


def remove_leftovers() -> None:
    """Remove what an earlier run that was killed left: its processes (by pid, only while they are
    still ours: campaigner or postgres), folders, namespaces, links."""
    if LEFTOVERS.exists():
        try:
            left = json.loads(LEFTOVERS.read_text())
        except ValueError:
            left = {}
        for pid in left.get("pids", []):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "campaigner" in command or "postgres" in command or "partition" in command:
                log(f"leftover of an earlier run: stopping process {pid}")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for folder in left.get("folders", []):
            shutil.rmtree(folder, ignore_errors=True)
        LEFTOVERS.unlink(missing_ok=True)
    remove_network()


def remove_network() -> None:
    names = ip("netns", "list", check=False).stdout.split()
    for i in range(1, HOSTS + 1):
        if netns(i) in names:
            ip("netns", "delete", netns(i), check=False)
        ip("link", "delete", veth(i), check=False)
    ip("link", "delete", BRIDGE, check=False)


def make_network() -> None:
    ip("link", "add", BRIDGE, "type", "bridge", "forward_delay", "0")
    ip("addr", "add", f"{BRIDGE_IP}/24", "dev", BRIDGE)
    ip("link", "set", BRIDGE, "up")
    for i in range(1, HOSTS + 1):
        ip("netns", "add", netns(i))
        ip("link", "add", veth(i), "type", "veth", "peer", "name", "eth0", "netns", netns(i))
        ip("link", "set", veth(i), "master", BRIDGE, "up")
        inside = ["netns", "exec", netns(i), "ip"]
        ip(*inside, "addr", "add", f"{host_ip(i)}/24", "dev", "eth0")
        ip(*inside, "link", "set", "eth0", "up")
        ip(*inside, "link", "set", "lo", "up")


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# -- PostgreSQL -----------------------------------------------------------------------------------


def start_postgres(made: Made) -> str:
    """A cluster of its own listening on the bridge address; returns the admin URL."""
    user = pwd.getpwnam("postgres")
    data = made.add_folder(Path(tempfile.mkdtemp(prefix="campaigner-partition-pg-")))
    os.chown(data, user.pw_uid, user.pw_gid)
    subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
        user="postgres",
    )
    with (data / "db" / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {NET}.0/24 trust\n")
    port = free_port(BRIDGE_IP)
    made.add_process(
        subprocess.Popen(
            [
                str(PG_BIN / "postgres"),
                "-D",
                str(data / "db"),
                "-h",
                BRIDGE_IP,
                "-p",
                str(port),
                "-k",
                str(data),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            user="postgres",
            stdout=subprocess.DEVNULL,
            stderr=(data / "pg.log").open("wb"),
        )
    )
    url = f"postgresql://postgres@{BRIDGE_IP}:{port}/postgres"
    wait_until(lambda: asyncio.run(_answers(url)), 30, "PostgreSQL did not start")
    return url


async def _answers(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=2)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def wait_until(condition: Callable[[], Any], within: float, failure: str, every: float = 0.1) -> Any:
    """Poll `condition` until it returns something true; raise with `failure` after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(every)


# -- daemons ---------------------------------------------------------------------------------------


def write_config(folder: Path, i: int | None, database_url: str, sandbox_port: int, args: Any) -> Path:
    """The config of host `i` (None: the root namespace's CLI)."""
    here = host_ip(i) if i is not None else BRIDGE_IP
    config = folder / f"config-{i or 'cli'}.toml"
    config.write_text(
        f"""
[database]
url = "{database_url}"
pool_max_size = 6
connect_timeout = 3.0
[provider]
type = "cliqtel"
base_url = "http://{BRIDGE_IP}:{sandbox_port}/api/v1/sms"
api_key_env = "CLIQTEL_API_KEY"
sender = "+3197010203040"
inbound_poll_interval = 0
requests_per_minute = {args.mps * 60}
request_window = 60.0
messages_per_second = {args.mps}
window_margin = {args.margin}
connect_timeout = 1.0
read_timeout = 2.0
[dispatcher]
worker_timeout = {args.worker_timeout}
heartbeat_interval = {args.worker_timeout / 6:.3f}
poll_interval = 0.5
lease_seconds = {args.lease}
[daemon]
host = "{here}"
port = 8080
admin_host = "{here}"
admin_port = 8081
grace_period = 5.0
""",
        encoding="utf-8",
    )
    return config


@dataclass
class Daemon:
    """One host's daemon, with its output lines stamped as they come (wall time)."""

    host: int
    process: subprocess.Popen[bytes]
    lines: list[tuple[float, str]] = field(default_factory=list)

    def read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.append((time.time(), raw.decode(errors="replace").rstrip()))

    def lines_between(self, start: float, end: float = float("inf")) -> list[tuple[float, str]]:
        return [(at, line) for at, line in list(self.lines) if start <= at < end]


def start_daemon(made: Made, i: int, config: Path, env: dict[str, str]) -> Daemon:
    process = made.add_process(
        subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                netns(i),
                str(VENV_BIN / "campaigner"),
                "--config",
                str(config),
                "daemon",
                "--log-level",
                "INFO",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    )
    daemon = Daemon(i, process)
    threading.Thread(target=daemon.read, daemon=True).start()
    return daemon


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(VENV_BIN / "campaigner"), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"campaigner {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout


class Db:
    """The harness's own reads of the database (one connection, its own event loop)."""

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._conn: asyncpg.Connection = self._loop.run_until_complete(asyncpg.connect(url))

    def rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return self._loop.run_until_complete(self._conn.fetch(sql, *args))

    def value(self, sql: str, *args: Any) -> Any:
        return self._loop.run_until_complete(self._conn.fetchval(sql, *args))

    def close(self) -> None:
        self._loop.run_until_complete(self._conn.close())
        self._loop.close()


def unacked_to(i: int, port: int) -> int:
    """Sockets of host `i` to the sandbox that still hold request bytes the sandbox has not acked
    (they would reach it late), or are closing with them (FIN-WAIT-1: data may still go)."""
    out = subprocess.run(
        ["ip", "netns", "exec", netns(i), "ss", "-Htn", "state", "all", "dst", f"{BRIDGE_IP}:{port}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    count = 0
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 3 and (int(fields[2]) > 0 or fields[0] in ("FIN-WAIT-1", "SYN-SENT", "CLOSING")):
            count += 1
    return count


# -- figures ---------------------------------------------------------------------------------------


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most events in any rolling window of `window` seconds."""
    times = sorted(times)
    best = start = 0
    for end, at in enumerate(times):
        while times[start] <= at - window:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass
class Figures:
    recipients: int
    accepted: int
    duplicates: int
    lost: int
    unrecorded: int
    max_window: int
    limit: int
    sandbox_violations: int
    violations_when: str
    seconds: float
    takeover_seconds: float | None
    cut_sends_after_restore: int
    cut_stale_sends: int
    cut_late_arrivals: int
    noticed_seconds: float | None
    cut_lines: list[str]
    per_host: dict[str, int]
    completed: bool
    away: float
    voided: int

    def checks(self) -> list[tuple[str, bool]]:
        return [
            ("campaign completed", self.completed),
            ("every recipient accepted", self.accepted == self.recipients),
            ("0 duplicates", self.duplicates == 0),
            ("0 lost", self.lost == 0),
            ("0 unrecorded", self.unrecorded == 0),
            (f"max 1 s window <= {self.limit}", self.max_window <= self.limit),
            ("0 sandbox window violations", self.sandbox_violations == 0),
            ("0 sends by the cut host for jobs it no longer held", self.cut_stale_sends == 0),
        ]


# -- the scenario ----------------------------------------------------------------------------------


def run(args: Any, made: Made) -> Figures:
    remove_leftovers()
    make_network()
    log(f"network: bridge {BRIDGE} {BRIDGE_IP}, hosts {', '.join(host_ip(i) for i in range(1, HOSTS + 1))}")
    admin_url = start_postgres(made)
    asyncio.run(_create_database(admin_url))
    database_url = admin_url.rsplit("/", 1)[0] + "/campaigner"
    sandbox_port = free_port(BRIDGE_IP)
    made.add_process(
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve-sandbox",
                "--port",
                str(sandbox_port),
                "--mps",
                str(args.mps),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    sandbox = f"http://{BRIDGE_IP}:{sandbox_port}"
    wait_until(lambda: _reachable(sandbox), 20, "the sandbox did not start")
    folder = made.add_folder(Path(tempfile.mkdtemp(prefix="campaigner-partition-")))
    env = {**os.environ, "CLIQTEL_API_KEY": API_KEY, "CLIQTEL_WEBHOOK_SECRET": "partition-webhook-secret"}
    for key in ("CAMPAIGNER_CONFIG", "CAMPAIGNER_DATABASE_URL"):
        env.pop(key, None)
    cli_config = write_config(folder, None, database_url, sandbox_port, args)
    cli(env, "--config", str(cli_config), "db", "upgrade")
    db = Db(database_url)
    try:
        return _scenario(args, made, db, env, folder, cli_config, database_url, sandbox, sandbox_port)
    finally:
        db.close()


async def _create_database(admin_url: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute("CREATE DATABASE campaigner")
    finally:
        await conn.close()


def _reachable(url: str) -> bool:
    try:
        http_json(url + "/_sandbox/stats")
    except OSError:
        return False
    return True


def _scenario(
    args: Any,
    made: Made,
    db: Db,
    env: dict[str, str],
    folder: Path,
    cli_config: Path,
    database_url: str,
    sandbox: str,
    sandbox_port: int,
) -> Figures:
    numbers = [f"+316{30_000_000 + i:08d}" for i in range(args.recipients)]
    csv_file = folder / "recipients.csv"
    csv_file.write_text("phone\n" + "".join(f"{n}\n" for n in numbers))
    created = cli(
        env,
        "--config",
        str(cli_config),
        "create",
        str(csv_file),
        "-m",
        "Partition run: hello",
        "--format",
        "json",
    )
    campaign_id = int(json.loads(created)["id"])
    daemons = [
        start_daemon(made, i, write_config(folder, i, database_url, sandbox_port, args), env)
        for i in range(1, HOSTS + 1)
    ]
    made.daemons = daemons
    workers: dict[int, str] = wait_until(
        lambda: _workers(db, daemons), 30, "the three daemons did not register as workers"
    )
    log(f"workers: {', '.join(f'host{h} {w}' for h, w in sorted(workers.items()))}")
    cli(env, "--config", str(cli_config), "resume", str(campaign_id))
    began = time.time()
    log(f"campaign {campaign_id}: {args.recipients} recipients at {args.mps} msg/s shared by {HOSTS} daemons")

    def sent_by() -> Counter[str]:
        return Counter(m[1] for m in http_json(sandbox + "/_partition/log")["messages"])

    cut_after = int(args.recipients * args.cut_at)
    wait_until(
        lambda: (
            sum(sent_by().values()) >= cut_after and all(sent_by()[host_ip(i)] for i in range(1, HOSTS + 1))
        ),
        120,
        "the campaign did not get going on all three hosts",
        every=0.05,
    )
    cut_worker = workers[CUT]
    ip("link", "set", veth(CUT), "down")
    cut_at = time.time()
    holding = db.value("SELECT count(*) FROM jobs WHERE worker_id = $1 AND state = 'sending'", cut_worker)
    log(
        f"cut host{CUT}'s link ({veth(CUT)} down) with {sum(sent_by().values())} messages at the sandbox; "
        f"host{CUT} holds {holding} jobs in sending"
    )
    seen = Timeline(db, campaign_id, cut_worker, cut_at)
    while time.time() - cut_at < args.down and not (args.restore_on_takeover and seen.takeover):
        seen.observe()
        time.sleep(0.1)
    ip("link", "set", veth(CUT), "up")
    restored = time.time()
    log(f"restored host{CUT}'s link after {restored - cut_at:.1f} s")
    wait_until(
        lambda: seen.observe() and seen.completed,
        args.recipients / args.mps * 3 + 120,
        "the campaign did not complete",
        every=0.1,
    )
    takeover = seen.takeover - cut_at if seen.takeover else None
    ended = seen.completed or time.time()
    # Host3 is back once its heartbeat is newer than the restore and it holds nothing; and no request
    # bytes of it are left on the wire (TCP would deliver them late: that is what is checked).
    wait_until(
        lambda: db.value(
            "SELECT heartbeat_at > to_timestamp($2) AND NOT EXISTS (SELECT 1 FROM jobs WHERE worker_id = $1"
            " AND state = 'sending') FROM workers WHERE id = $1",
            cut_worker,
            restored,
        ),
        120,
        f"host{CUT}'s daemon did not come back",
        every=0.2,
    )
    wait_until(lambda: unacked_to(CUT, sandbox_port) == 0, 180, f"host{CUT} still has requests on the wire")
    for daemon in daemons:
        daemon.process.send_signal(signal.SIGTERM)
    for daemon in daemons:
        daemon.process.wait(timeout=30)
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
        for daemon in daemons:
            lines = "".join(f"{line}\n" for _at, line in daemon.lines)
            (args.logs / f"host{daemon.host}.log").write_text(lines, encoding="utf-8")
    return _figures(
        args, db, campaign_id, numbers, sandbox, daemons, cut_at, restored, began, ended, takeover
    )


class Timeline:
    """When the others took the cut host's jobs over (none of them left `sending` under it), and
    when the campaign completed (wall time), as seen by polling the database."""

    def __init__(self, db: Db, campaign_id: int, cut_worker: str, cut_at: float) -> None:
        self._db, self._campaign, self._worker, self._cut_at = db, campaign_id, cut_worker, cut_at
        self.takeover: float | None = None
        self.completed: float | None = None
        self._last_states: dict[str, int] = {}

    def observe(self) -> bool:
        now = time.time()
        if self.takeover is None and not self._db.value(
            "SELECT count(*) FROM jobs WHERE worker_id = $1 AND state = 'sending'", self._worker
        ):
            self.takeover = now
            log(f"no job left in `sending` under the cut host, {now - self._cut_at:.1f} s after the cut")
        if self.completed is None:
            states = dict(
                self._db.rows(
                    "SELECT state || coalesce(' ' || worker_id, ''), count(*) FROM jobs"
                    " WHERE campaign_id = $1"
                    " AND state IN ('pending', 'sending') GROUP BY 1",
                    self._campaign,
                )
            )
            if states != self._last_states:
                log(f"unfinished jobs: {states}")
                self._last_states = states
            state = self._db.value("SELECT state FROM campaigns WHERE id = $1", self._campaign)
            left = self._db.value(
                "SELECT count(*) FROM jobs WHERE campaign_id = $1 AND state IN ('pending', 'sending')",
                self._campaign,
            )
            if state == "completed" and not left:
                self.completed = now
                log("campaign completed")
        return True


def _workers(db: Db, daemons: list[Daemon]) -> dict[int, str] | None:
    """Each host's worker id (from its daemon's first line), once all are registered and beating."""
    found: dict[int, str] = {}
    for daemon in daemons:
        for _at, line in list(daemon.lines):
            if match := re.search(r"daemon started as worker (\S+):", line):
                found[daemon.host] = match[1]
    rows = db.rows("SELECT id FROM workers WHERE heartbeat_at > now() - interval '5 seconds'")
    alive = {r["id"] for r in rows}
    return found if len(found) == HOSTS and set(found.values()) <= alive else None


def _figures(
    args: Any,
    db: Db,
    campaign_id: int,
    numbers: list[str],
    sandbox: str,
    daemons: list[Daemon],
    cut_at: float,
    restored: float,
    began: float,
    ended: float,
    takeover: float | None,
) -> Figures:
    trail = http_json(sandbox + "/_partition/log")
    stats = http_json(sandbox + "/_sandbox/stats")
    messages = trail["messages"]
    per_recipient = Counter(m[2] for m in messages)
    recorded = {
        r["e164"]: r["provider_id"]
        for r in db.rows("SELECT e164, provider_id FROM jobs WHERE campaign_id = $1", campaign_id)
    }
    cut_ip = host_ip(CUT)
    after = [m for m in messages if m[1] == cut_ip and m[0] >= restored]
    stale = [m for m in after if per_recipient[m[2]] > 1 or recorded.get(m[2]) != str(m[3])]
    # A request of host3 that reached the sandbox after the restore but was no longer answered to
    # a live client: its job records another message (or none) as the one the provider has.
    late = [m for m in after if recorded.get(m[2]) != str(m[3])]
    posts = [
        r[0] - restored for r in trail["requests"] if r[1] == cut_ip and r[0] >= restored and r[2] == "POST"
    ]
    gets = [r for r in trail["requests"] if r[1] == cut_ip and r[0] >= restored and r[2] == "GET"]
    refused = [r for r in trail["requests"] if r[4] == 429]
    log("429s at the sandbox: " + ", ".join(f"{r[1]} {r[2]} at cut{r[0] - cut_at:+.2f} s" for r in refused))
    phases = Counter(
        "before the cut" if r[0] < cut_at else "during it" if r[0] < restored else "after it" for r in refused
    )
    log(f"sandbox rate limits: {stats['rate_limits']}")
    arrivals = ", ".join(f"+{m[0] - restored:.2f} s" for m in after[:10])
    log(
        f"host{CUT} after the restore: {len(posts)} POSTs (first +{min(posts, default=0):.2f} s), "
        f"{len(gets)} GETs (lookups); messages stored at {arrivals or '-'}"
    )
    cut_daemon = daemons[CUT - 1]
    noticed_lines = [
        (at, line)
        for at, line in cut_daemon.lines_between(restored)
        if "heartbeat back after" in line or "lease or heartbeat too old" in line
    ]
    violations = sum(int(limit["violations"]) for limit in stats["rate_limits"].values())
    return Figures(
        recipients=len(numbers),
        accepted=len(per_recipient.keys() & set(numbers)),
        duplicates=sum(1 for n in per_recipient.values() if n > 1),
        lost=len(set(numbers) - per_recipient.keys()),
        unrecorded=sum(1 for m in messages if recorded.get(m[2]) != str(m[3])),
        max_window=max_in_window([m[0] for m in messages]),
        limit=args.mps,
        sandbox_violations=violations,
        violations_when=", ".join(f"{n} {phase}" for phase, n in phases.items()),
        seconds=ended - began,
        takeover_seconds=takeover,
        cut_sends_after_restore=len(after),
        cut_stale_sends=len(stale),
        cut_late_arrivals=len(late),
        noticed_seconds=(noticed_lines[0][0] - restored) if noticed_lines else None,
        cut_lines=[line for _at, line in cut_daemon.lines_between(cut_at)],
        per_host=dict(Counter(m[1] for m in messages)),
        completed=True,
        away=restored - cut_at,
        voided=sum(
            int(match[1])
            for _at, line in cut_daemon.lines
            if (match := re.search(r"(\d+) claimed before a heartbeat lapse not sent", line))
        ),
    )


def report(figures: Figures, args: Any) -> bool:
    f = figures
    ceiling = f.recipients / args.mps
    print()
    print(
        f"messages          {f.accepted} of {f.recipients} recipients accepted at the sandbox "
        f"({sum(f.per_host.values())} messages: "
        + ", ".join(f"{h} {n}" for h, n in sorted(f.per_host.items()))
        + ")"
    )
    print(f"duplicates        {f.duplicates}   (target 0)")
    print(f"lost              {f.lost}   (target 0)")
    print(f"unrecorded        {f.unrecorded}   (messages at the sandbox no job records; target 0)")
    print(
        f"max in any 1 s    {f.max_window} messages (limit {f.limit}); sandbox window violations "
        f"{f.sandbox_violations} (target 0{'; ' + f.violations_when if f.violations_when else ''})"
    )
    print(
        f"time to finish    {f.seconds:.1f} s (at the limit alone {ceiling:.1f} s; the cut host was "
        f"away {f.away:.1f} s)"
    )
    took = f"{f.takeover_seconds:.1f} s" if f.takeover_seconds is not None else "not within the cut"
    print(
        f"takeover          the others settled the cut host's jobs in sending {took} after the cut "
        f"(worker_timeout {args.worker_timeout:g} s + the longest request)"
    )
    noticed = f"{f.noticed_seconds:.1f} s" if f.noticed_seconds is not None else "no line"
    print(f"cut host noticed  {noticed} after the restore (its log: heartbeat back, claims void)")
    print(
        f"cut host return   {f.cut_sends_after_restore} messages sent after the restore, "
        f"{f.cut_stale_sends} of them for jobs it no longer held (target 0), "
        f"{f.cut_late_arrivals} late arrivals; {f.voided} jobs it had claimed before the cut not sent"
    )
    print(f"cut host's log from the cut on ({len(f.cut_lines)} lines):")
    for line in f.cut_lines[: args.show_lines]:
        print("    " + line[:240])
    print()
    ok = True
    for name, passed in f.checks():
        print(f"{'PASS' if passed else 'FAIL'}  {name}")
        ok = ok and passed
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--mps", type=int, default=50, help="the account's shared limit, messages/s")
    parser.add_argument(
        "--cut-at", type=float, default=0.8, help="share of the campaign at the sandbox at the cut"
    )
    parser.add_argument("--down", type=float, default=25.0, help="seconds the link stays down")
    parser.add_argument(
        "--restore-on-takeover",
        action="store_true",
        help="restore the link as soon as the others took the cut host's jobs over "
        "(at most --down s): it comes back while they still send those jobs",
    )
    parser.add_argument("--worker-timeout", type=float, default=6.0, help="dispatcher.worker_timeout")
    parser.add_argument("--lease", type=float, default=60.0, help="dispatcher.lease_seconds")
    parser.add_argument("--margin", type=float, default=0.1, help="provider.window_margin")
    parser.add_argument("--logs", type=Path, help="write each daemon's log to this folder")
    parser.add_argument("--show-lines", type=int, default=40, help="lines of the cut host's log to show")
    parser.add_argument("--serve-sandbox", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandbox:
        serve_sandbox(BRIDGE_IP, args.port, args.mps, args.mps * 60)
        return 0
    if os.geteuid() != 0:
        print(
            "benchmarks/partition.py needs root: it makes network namespaces, veth links and a bridge "
            "(run it with sudo)",
            file=sys.stderr,
        )
        return 2
    if shutil.which("ip") is None or not (PG_BIN / "postgres").exists():
        print(f"benchmarks/partition.py needs `ip` (iproute2) and PostgreSQL 15 in {PG_BIN}", file=sys.stderr)
        return 2
    # One run at a time: a second one would remove the first's namespaces as leftovers.
    lock = LOCK.open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print(f"another partition run is going on (lock {LOCK}); wait for it to end", file=sys.stderr)
        return 2
    made = Made()
    atexit.register(made.cleanup)
    # Also when started in the background, where the shell leaves SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        figures = run(args, made)
    except KeyboardInterrupt:
        made.cleanup()
        print("interrupted: namespaces, links, processes and the cluster removed", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, asyncpg.PostgresError, subprocess.SubprocessError) as exc:
        print(f"partition run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        for daemon in made.daemons:
            print(f"host{daemon.host}'s daemon, last lines:", file=sys.stderr)
            for _at, line in daemon.lines[-15:]:
                print("    " + line[:300], file=sys.stderr)
        return 1
    finally:
        made.cleanup()
    return 0 if report(figures, args) else 1


if __name__ == "__main__":
    sys.exit(main())
