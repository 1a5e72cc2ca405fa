"""One embedded PostgreSQL data folder, run with the binaries of the `pgserver` wheel.

The mechanics behind `cluster.py` beside it (which says the policy and holds the public API): the
folder layout, the account the server runs as, initdb, pg_ctl start/stop, the socket, the locks.
pgserver's own Python code is never imported (see cluster.py for why); only its `pginstall/` tree.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import logging
import os
import pwd
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from campaigner.config import Config
from campaigner.errors import DatabaseError

log = logging.getLogger(__name__)

SERVER_USER = "campaigner"
ROOT_DATA_DIR = Path("/var/lib/campaigner/pg")
DATABASE = "postgres"
PORT = 5432
LOCK_TIMEOUT = 60.0
START_TIMEOUT = 30
# sun_path holds 108 bytes including the terminating NUL.
_SOCKET_PATH_MAX = 107
_SHORT_SOCKET_PREFIX = "campaigner-pg-"


class EmbeddedError(DatabaseError):
    """The embedded PostgreSQL could not be prepared, started or stopped; one line that says why."""


@dataclass(frozen=True)
class Account:
    """Who runs the server: this process's user, or the system user `campaigner` when we are root."""

    name: str
    uid: int
    gid: int

    @property
    def switch(self) -> bool:
        return self.uid != os.geteuid()

    def run_kwargs(self) -> dict[str, Any]:
        # Drop root's supplementary groups too, not only the uid (subprocess keeps them otherwise).
        return {"user": self.uid, "group": self.gid, "extra_groups": []} if self.switch else {}


@dataclass(frozen=True)
class Layout:
    """The files of one embedded server under its data folder `root`."""

    root: Path

    @property
    def pgdata(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.pgdata / "server.log"

    @property
    def users_lock(self) -> Path:
        return self.root / "users.lock"

    @property
    def init_lock(self) -> Path:
        return self.root / "init.lock"


def default_data_dir() -> Path:
    """Where the embedded data lives when `database.data_dir` is empty."""
    # systemd's StateDirectory= (the shipped unit sets it): the service user may have no home.
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if state:
        return Path(state) / "pg"
    if os.geteuid() == 0:
        return ROOT_DATA_DIR
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "campaigner" / "pg"


def data_dir(config: Config) -> Path:
    """The embedded server's folder for `config`, absolute."""
    configured = config.database.data_dir
    chosen = Path(configured).expanduser() if configured else default_data_dir()
    return Path(os.path.abspath(chosen))


def url_for(socket_dir: str | Path, port: int = PORT) -> str:
    """An asyncpg/libpq URL for a server listening on a Unix socket in `socket_dir` (no password)."""
    query = f"host={socket_dir}" if port == PORT else f"host={socket_dir}&port={port}"
    return f"postgresql://postgres@/{DATABASE}?{query}"


# ---------------------------------------------------------------------------------------------------
# Binaries, account, folders


def installed_binaries() -> Path:
    """The `pginstall` folder of the pgserver wheel (bin/, lib/, share/)."""
    spec = importlib.util.find_spec("pgserver")  # locate only: importing it has side effects
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError(
            "the embedded PostgreSQL needs the pgserver package: pip install pgserver, or set database.url"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def binaries_version(prefix: Path | None = None) -> str:
    """The PostgreSQL version of the bundled binaries, e.g. "16.2"."""
    prefix = prefix or installed_binaries()
    result = _run([str(prefix / "bin" / "postgres"), "-V"], None, timeout=10)
    if result.returncode != 0:
        raise EmbeddedError(
            f"embedded PostgreSQL: {prefix / 'bin' / 'postgres'} -V failed: {_tail(result.stdout)}"
        )
    return result.stdout.strip().rsplit(" ", 1)[-1]


def server_account() -> Account:
    """Who runs the server: the caller, or (as root) the system user `campaigner`, created if missing."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)
    try:
        entry = pwd.getpwnam(SERVER_USER)
    except KeyError:
        entry = _create_system_user()
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _create_system_user() -> pwd.struct_passwd:
    shell = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
    cmd = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
    try:
        subprocess.run([*cmd, "--shell", shell, SERVER_USER], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        with contextlib.suppress(KeyError):  # a concurrent campaigner created it first
            return pwd.getpwnam(SERVER_USER)
        detail = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) else str(exc)
        raise EmbeddedError(
            f"PostgreSQL cannot run as root and creating the system user {SERVER_USER!r} failed ({detail}): "
            "create it, run campaigner as a normal user, or set database.url"
        ) from None
    # A warning, so that a command with no logging set up still shows it (logging's last resort).
    log.warning("campaigner: created system user %r to run the embedded PostgreSQL", SERVER_USER)
    return pwd.getpwnam(SERVER_USER)


def _blocking_ancestor(path: Path, account: Account) -> Path | None:
    """The first folder above `path` that `account` cannot traverse (mode bits), or None."""
    for folder in reversed(path.parents):
        st = folder.stat()
        if st.st_uid == account.uid:
            bit = stat.S_IXUSR
        elif st.st_gid == account.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return folder
    return None


def usable_binaries(layout: Layout, account: Account) -> Path:
    """The binaries the server user can execute: the installed ones, else a copy beside the data."""
    installed = installed_binaries()
    postgres = installed / "bin" / "postgres"
    if not account.switch or (
        _blocking_ancestor(postgres, account) is None and postgres.stat().st_mode & stat.S_IXOTH
    ):
        return installed
    # Keep the wheel's shape: the binaries find their libraries at $ORIGIN/../../../pgserver.libs.
    copy = layout.root / f"pgsql-{binaries_version(installed)}"
    if not copy.exists():
        staging = Path(tempfile.mkdtemp(prefix=".pgsql-", dir=layout.root))
        for part in ("bin", "lib", "share"):
            shutil.copytree(installed / part, staging / "pgserver" / "pginstall" / part, symlinks=True)
        libs = installed.parent.parent / "pgserver.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / "pgserver.libs", symlinks=True)
        staging.chmod(0o755)
        staging.rename(copy)
    return copy / "pgserver" / "pginstall"


def prepare_root(layout: Layout) -> None:
    """Create the data folder (0755 so that, as root, the server user can enter it; what is inside
    is private: data/ 0700, the lock files 0600)."""
    try:
        layout.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0 and layout.root.stat().st_uid == 0:
            layout.root.chmod(0o755)
        for lock in (layout.users_lock, layout.init_lock):
            lock.touch(mode=0o600, exist_ok=True)
    except OSError as exc:
        raise EmbeddedError(
            f"embedded PostgreSQL: cannot use data folder {layout.root} ({exc.strerror}): "
            "set database.data_dir to a writable folder, or database.url"
        ) from None


def check_reachable(layout: Layout, account: Account) -> None:
    """Refuse (never chmod) a data folder the server user cannot enter or does not own."""
    if not account.switch:
        return
    blocking = _blocking_ancestor(layout.pgdata, account)
    if blocking is not None:
        raise EmbeddedError(
            f"embedded PostgreSQL runs as user {account.name!r}, which cannot enter {blocking} "
            f"(mode {stat.S_IMODE(blocking.stat().st_mode):o}); campaigner changes no permissions outside "
            "its data folder: choose a database.data_dir whose parent folders others can enter "
            f"(default {ROOT_DATA_DIR}), run as a normal user, or set database.url"
        )
    if layout.pgdata.exists() and layout.pgdata.stat().st_uid != account.uid:
        owner = layout.pgdata.owner()
        raise EmbeddedError(
            f"embedded PostgreSQL data {layout.pgdata} belongs to user {owner!r}, not {account.name!r}: "
            + (
                f"`chown -R {account.name} {layout.pgdata}` (PostgreSQL never runs as root)"
                if owner == "root"
                else f"run campaigner as {owner!r}"
            )
            + " or choose another database.data_dir"
        )


# ---------------------------------------------------------------------------------------------------
# Processes


def _run(
    args: list[str], account: Account | None, *, timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool (as `account`); output goes to files, not pipes, because the server
    that pg_ctl starts would otherwise inherit the pipe and keep us waiting for its end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    with tempfile.TemporaryFile("w+") as out:
        result = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
            check=False,
            **(account.run_kwargs() if account else {}),
        )
        out.seek(0)
        return subprocess.CompletedProcess(result.args, result.returncode, out.read(), "")


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " / ".join(kept) or "no output"


@dataclass(frozen=True)
class Postmaster:
    """A running server: its pid and where its socket is."""

    pid: int
    socket_dir: str
    port: int


def running(layout: Layout) -> Postmaster | None:
    """The server of this data folder if it is up and accepting connections on its socket."""
    try:
        lines = (layout.pgdata / "postmaster.pid").read_text().splitlines()
        pid, port, socket_dir = int(lines[0]), int(lines[3]), lines[4].strip()
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by someone else
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(Path(socket_dir) / f".s.PGSQL.{port}"))
    except OSError:
        return None
    finally:
        probe.close()
    return Postmaster(pid, socket_dir, port)


def initdb(layout: Layout, account: Account, binaries: Path) -> None:
    """Create the cluster in data.new, then rename it to data/: a killed initdb leaves no half cluster."""
    staging = layout.root / "data.new"
    shutil.rmtree(staging, ignore_errors=True)  # left by an initdb that was killed
    staging.mkdir(mode=0o700)
    if account.switch:
        os.chown(staging, account.uid, account.gid)
    args = [str(binaries / "bin" / "initdb"), "-D", str(staging), "-U", "postgres", "-A", "trust"]
    result = _run([*args, "-E", "UTF8", "--locale=C"], account, timeout=120, cwd=layout.root)
    if result.returncode != 0:
        raise EmbeddedError(f"embedded PostgreSQL: initdb in {staging} failed: {_tail(result.stdout)}")
    staging.rename(layout.pgdata)
    log.warning("campaigner: initialised the embedded PostgreSQL in %s", layout.pgdata)


def check_version(layout: Layout, binaries: Path) -> None:
    """Refuse data written by another major version than the installed binaries."""
    data_major = (layout.pgdata / "PG_VERSION").read_text().strip()
    version = binaries_version(binaries)
    if version.split(".")[0] != data_major:
        raise EmbeddedError(
            f"embedded PostgreSQL data in {layout.pgdata} is version {data_major} but the installed "
            f"server is {version}: pg_dump it with the old version, or choose another database.data_dir"
        )


def _socket_dir(layout: Layout, account: Account) -> Path:
    if len(str(layout.pgdata / f".s.PGSQL.{PORT}").encode()) <= _SOCKET_PATH_MAX:
        return layout.pgdata
    short = Path(tempfile.mkdtemp(prefix=_SHORT_SOCKET_PREFIX))  # 0700, unique: nobody can squat it
    if account.switch:
        os.chown(short, account.uid, account.gid)
    return short


def start(layout: Layout, account: Account, binaries: Path) -> Postmaster:
    """pg_ctl start, socket only; a failure is one line with the tail of the server log."""
    socket_dir = _socket_dir(layout, account)
    options = f"-h '' -k {shlex.quote(str(socket_dir))} -p {PORT} -c unix_socket_permissions=0700"
    args = [str(binaries / "bin" / "pg_ctl"), "-D", str(layout.pgdata), "-l", str(layout.log)]
    args += ["-w", "-t", str(START_TIMEOUT), "-s", "-o", options, "start"]
    result = _run(args, account, timeout=START_TIMEOUT + 10, cwd=layout.root)
    postmaster = running(layout)
    if result.returncode != 0 or postmaster is None:
        log = layout.log.read_text(errors="replace") if layout.log.exists() else result.stdout
        raise EmbeddedError(
            f"embedded PostgreSQL in {layout.pgdata} did not start: {_tail(log)} (log: {layout.log})"
        )
    return postmaster


def stop(layout: Layout, account: Account, binaries: Path) -> None:
    """pg_ctl stop -m fast (clients are disconnected, nothing is lost)."""
    postmaster = running(layout)
    args = [
        str(binaries / "bin" / "pg_ctl"),
        "-D",
        str(layout.pgdata),
        "-m",
        "fast",
        "-w",
        "-t",
        "60",
        "-s",
        "stop",
    ]
    result = _run(args, account, timeout=70, cwd=layout.root)
    if result.returncode != 0 and running(layout) is not None:
        raise EmbeddedError(f"embedded PostgreSQL in {layout.pgdata} did not stop: {_tail(result.stdout)}")
    if postmaster and Path(postmaster.socket_dir).name.startswith(_SHORT_SOCKET_PREFIX):
        with contextlib.suppress(OSError):
            Path(postmaster.socket_dir).rmdir()


@contextlib.contextmanager
def flocked(path: Path, op: int, what: str, timeout: float = LOCK_TIMEOUT) -> Iterator[int]:
    """Hold a flock on `path` for the block."""
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        flock(fd, op, what, timeout)
        yield fd
    finally:
        os.close(fd)


def flock(fd: int, op: int, what: str, timeout: float) -> None:
    """Take a flock, polling up to `timeout` s; then an EmbeddedError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise EmbeddedError(
                    f"embedded PostgreSQL: timed out after {timeout:g} s waiting for {what}"
                ) from None
            time.sleep(0.02)


def lock_holders(path: Path) -> int | None:
    """How many processes hold a flock on `path` (Linux /proc/locks), None where unknown."""
    try:
        st = path.stat()
        wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    return sum(1 for line in lines if " FLOCK " in line and wanted in line.split())
