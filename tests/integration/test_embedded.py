"""The embedded PostgreSQL (campaigner/store/embedded/), against real servers in temporary data folders.

Every server a test starts is stopped by the `data_dir` fixture's finaliser, even when the test fails.
As root (CI), the data folders are made under /tmp with mode 0755: pytest's own tmp_path sits in a
0700 folder, which the server user `campaigner` cannot enter (and campaigner refuses to chmod it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from campaigner.config import DATABASE_URL_ENV, Config, config_from_mapping
from campaigner.store import migrations
from campaigner.store.database import Database
from campaigner.store.embedded import cluster as embedded
from campaigner.store.embedded import server as embedded_server
from campaigner.store.embedded.cluster import EmbeddedError

AS_ROOT = os.geteuid() == 0

# A campaigner process that joins the embedded server, prints its URL and holds on until stdin closes.
HOLDER = """
import sys
from campaigner.config import config_from_mapping
from campaigner.store.embedded.cluster import ensure_embedded
print(ensure_embedded(config_from_mapping({"database": {"data_dir": sys.argv[1]}})), flush=True)
sys.stdin.read()
"""


def _config(path: Path) -> Config:
    return config_from_mapping({"database": {"data_dir": str(path)}})


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _force_down(path: Path) -> None:
    """Stop whatever server runs in `path`, however the test ended."""
    config = _config(path)
    embedded.release_embedded(config)
    try:
        embedded.stop_embedded(config, force=True)
    except EmbeddedError:
        pidfile = path / "data" / "postmaster.pid"
        if pidfile.exists():
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A fresh data folder the server user can reach; its server is stopped and the folder removed after."""
    base = Path(tempfile.mkdtemp(prefix="campaigner-emb-"))
    base.chmod(0o755)
    path = base / "pg"
    try:
        yield path
    finally:
        _force_down(path)
        shutil.rmtree(base, ignore_errors=True)


class Holder:
    """A separate campaigner process using the embedded server."""

    def __init__(self, path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "CAMPAIGNER_DATABASE_URL"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def url(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line, f"holder exited: {self.stderr()}"
        return line

    def stderr(self) -> str:
        self.leave()
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def leave(self) -> None:
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=60)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def holders() -> Iterator[Callable[[Path], Holder]]:
    made: list[Holder] = []

    def make(path: Path) -> Holder:
        made.append(Holder(path))
        return made[-1]

    try:
        yield make
    finally:
        for holder in made:
            holder.close()


def _private(path: Path) -> bool:
    return path.stat().st_mode & 0o077 == 0


def _exists(path: Path) -> bool:
    return path.exists()


def _running(path: Path) -> bool:
    return bool(embedded.embedded_status(_config(path))["running"])


async def test_start_connect_query_and_stop_when_last_user_leaves(data_dir: Path) -> None:
    async with embedded.embedded_database(_config(data_dir)) as url:
        assert url == f"postgresql://postgres@/postgres?host={data_dir / 'data'}"
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT 40 + 2") == 42
            assert (await conn.fetchval("SHOW server_version")).startswith("16.")
            assert await conn.fetchval("SHOW listen_addresses") == ""  # Unix socket only, no TCP
        finally:
            await conn.close()
        status = embedded.embedded_status(_config(data_dir))
        assert status["running"] and status["initialised"] and status["url"] == url
        assert status["server_version"].startswith("16.") and status["data_version"] == "16"
        assert status["users"] == 1
        assert _private(data_dir / "data")
    assert not _running(data_dir)


async def test_restart_reuses_the_data(data_dir: Path) -> None:
    config = _config(data_dir)
    async with embedded.embedded_database(config) as url:
        conn = await asyncpg.connect(url)
        await conn.execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')")
        await conn.close()
    assert not _running(data_dir)
    started = time.perf_counter()
    async with embedded.embedded_database(config) as url:
        restart = time.perf_counter() - started
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT note FROM kept") == "still here"
        await conn.close()
    assert restart < 10


def test_two_concurrent_starts_share_one_server(data_dir: Path, holders: Callable[[Path], Holder]) -> None:
    first, second = holders(data_dir), holders(data_dir)
    assert first.url() == second.url()
    assert _running(data_dir)
    first.leave()
    assert _running(data_dir), "stopped while the second process still used it"
    second.leave()
    assert not _running(data_dir)
    initialised = (first.stderr() + second.stderr()).count("initialised the embedded PostgreSQL")
    assert initialised == 1


def test_server_orphaned_by_kill_9_is_reused_then_stopped(
    data_dir: Path, holders: Callable[[Path], Holder]
) -> None:
    holder = holders(data_dir)
    url = holder.url()
    pid = embedded.embedded_status(_config(data_dir))["pid"]
    holder.kill()
    status = embedded.embedded_status(_config(data_dir))
    assert status["running"] and status["pid"] == pid and status["users"] == 0
    assert embedded.ensure_embedded(_config(data_dir)) == url
    assert embedded.embedded_status(_config(data_dir))["pid"] == pid  # joined, not restarted
    embedded.release_embedded(_config(data_dir))
    assert not _running(data_dir)


def test_stop_refuses_while_in_use_unless_forced(data_dir: Path, holders: Callable[[Path], Holder]) -> None:
    holders(data_dir).url()
    with pytest.raises(EmbeddedError, match="in use by 1 campaigner process"):
        embedded.stop_embedded(_config(data_dir))
    assert _running(data_dir)
    assert embedded.stop_embedded(_config(data_dir), force=True) is True
    assert not _running(data_dir)
    assert embedded.stop_embedded(_config(data_dir)) is False


def test_start_failure_is_one_line_with_the_log_tail(data_dir: Path) -> None:
    config = _config(data_dir)
    embedded.ensure_embedded(config)
    embedded.release_embedded(config)
    with (data_dir / "data" / "postgresql.conf").open("a") as conf:
        conf.write("no_such_setting = 1\n")
    with pytest.raises(EmbeddedError, match=r"did not start: .*no_such_setting") as caught:
        embedded.ensure_embedded(config)
    assert "\n" not in str(caught.value)


def test_unwritable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(EmbeddedError, match=f"cannot use data folder {blocker}/pg"):
        embedded.ensure_embedded(_config(blocker / "pg"))


@pytest.mark.skipif(not AS_ROOT, reason="the server user differs from the caller only as root")
def test_as_root_a_folder_the_server_user_cannot_enter_is_refused_not_chmodded(data_dir: Path) -> None:
    private = data_dir.parent / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(EmbeddedError, match=f"cannot enter {private} \\(mode 700\\)"):
        embedded.ensure_embedded(_config(private / "pg"))
    assert private.stat().st_mode & 0o777 == 0o700


@pytest.mark.skipif(not AS_ROOT, reason="only root copies the binaries")
def test_as_root_unreachable_binaries_are_copied_beside_the_data(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hidden = Path(tempfile.mkdtemp(prefix="campaigner-bin-"))  # 0700: the server user cannot enter
    try:
        installed = embedded_server.installed_binaries()
        for part in ("bin", "lib", "share"):
            shutil.copytree(installed / part, hidden / "pgserver" / "pginstall" / part, symlinks=True)
        shutil.copytree(installed.parent.parent / "pgserver.libs", hidden / "pgserver.libs")
        monkeypatch.setattr(embedded_server, "installed_binaries", lambda: hidden / "pgserver" / "pginstall")
        embedded.ensure_embedded(_config(data_dir))
        copies = list(data_dir.glob("pgsql-*"))
        assert [c.name for c in copies] == [f"pgsql-{embedded.binaries_version()}"]
        assert _running(data_dir)
        embedded.release_embedded(_config(data_dir))
        assert not _running(data_dir)
    finally:
        shutil.rmtree(hidden, ignore_errors=True)


async def test_a_data_dir_too_long_for_a_socket_path_gets_a_short_private_socket_dir(data_dir: Path) -> None:
    deep = data_dir / ("x" * 100) / "pg"
    async with embedded.embedded_database(_config(deep)) as url:
        socket_dir = Path(url.split("host=", 1)[1])
        assert socket_dir.name.startswith("campaigner-pg-") and _private(socket_dir)
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT 1") == 1
        await conn.close()
    assert not _exists(socket_dir)


async def test_with_no_url_configured_the_store_connects_to_the_embedded_server(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    db = await Database.connect(_config(data_dir))
    try:
        assert f"host={data_dir / 'data'}" in db.url
        applied = await migrations.upgrade(db)
        assert applied and not (await migrations.status(db)).pending
    finally:
        await db.close()
    assert _running(data_dir)  # pinned for the life of the process (the fixture releases it)


def _campaigner(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `campaigner` command as a user runs it: config from a file, no database URL anywhere."""
    config_file = data_dir.parent / "campaigner.toml"
    config_file.write_text(f'[database]\ndata_dir = "{data_dir}"\n')
    env = {k: v for k, v in os.environ.items() if k != DATABASE_URL_ENV}
    env["CAMPAIGNER_CONFIG"] = str(config_file)
    command = [sys.executable, "-m", "campaigner", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=100, check=False)


def test_cli_with_no_url_runs_on_the_embedded_server_and_stops_it_after(data_dir: Path) -> None:
    upgrade = _campaigner(data_dir, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert "applied 0001" in upgrade.stdout
    assert "initialised the embedded PostgreSQL" in upgrade.stderr
    assert not _running(data_dir)  # its only user exited

    status = _campaigner(data_dir, "db", "status", "--format", "json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["pending"] == []
    # A socket has no TCP port: "…/data:5432" would point at whatever listens on 5432 instead.
    assert json.loads(status.stdout)["database"] == f"socket {data_dir / 'data'} (database postgres)"

    shown = _campaigner(data_dir, "db", "embedded", "--format", "json")
    report = json.loads(shown.stdout)
    assert report["initialised"] and not report["running"] and report["data_dir"] == str(data_dir)

    stop = _campaigner(data_dir, "db", "stop")
    assert stop.returncode == 0 and "not running" in stop.stdout
