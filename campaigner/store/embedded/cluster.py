"""The embedded PostgreSQL: campaigner's own server when no database URL is configured.

campaigner runs the PostgreSQL binaries that the `pgserver` wheel ships (`pgserver/pginstall`), but
not pgserver's Python code: as root that code creates a login user, chowns the data and chmods every
parent folder up to `/`, and it keeps its locks in a runtime folder chosen at import time. Here
instead:

- Everything lives under one folder, `database.data_dir` (default `$STATE_DIRECTORY/pg` under a
  systemd unit with StateDirectory=, else `$XDG_DATA_HOME/campaigner/pg`, or
  `/var/lib/campaigner/pg` for root, whose parents every user can already traverse): `data/` is
  PGDATA, `users.lock` and `init.lock` coordinate processes, and the server log is `data/server.log`.
- PostgreSQL refuses to run as root, so as root the server runs as the system user `campaigner`
  (no login shell, no home, created once and announced on stderr). No permission outside the data
  folder is ever changed: a folder the server user cannot reach is refused with a clear message.
  If the installed binaries are not reachable by that user they are copied next to the data.
- It listens on a Unix socket only (no TCP), inside the 0700 data folder, with socket mode 0700 and
  trust authentication: only the owning user (and root) can connect.
- Each process using the server holds a shared `flock` on `users.lock`; the kernel drops it when
  the process ends, even on kill -9. The process that leaves last (it can take the lock exclusively)
  stops the server; a server orphaned by a killed process is reused by the next one and stopped
  when that one leaves. `campaigner db stop` stops it explicitly.
- Initialisation and start-up happen under an exclusive `flock` on `init.lock`, so concurrent
  starts against one data folder are safe; initdb writes into `data.new` and renames it when done.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import os
import pwd
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from campaigner.config import Config
from campaigner.store.embedded import server
from campaigner.store.embedded.server import (
    ROOT_DATA_DIR,
    SERVER_USER,
    EmbeddedError,
    binaries_version,
    data_dir,
    default_data_dir,
    url_for,
)

__all__ = [
    "ROOT_DATA_DIR",
    "SERVER_USER",
    "EmbeddedError",
    "binaries_version",
    "data_dir",
    "default_data_dir",
    "embedded_database",
    "embedded_status",
    "ensure_embedded",
    "release_embedded",
    "stop_embedded",
    "url_for",
]


@dataclass
class _Lease:
    fd: int  # holds a shared flock on users.lock for as long as this process uses the server
    url: str
    count: int = 0  # uses in this process: open `embedded_database` blocks, plus one if pinned
    pinned: bool = False  # `ensure_embedded` was called: used until exit or `release_embedded`


_leases: dict[Path, _Lease] = {}
_leases_lock = threading.Lock()
_atexit_registered = False


def _bring_up(layout: server.Layout) -> str:
    """Under the init lock: server user, data folder, initdb when new, start when down. The URL."""
    with server.flocked(
        layout.init_lock, fcntl.LOCK_EX, f"{layout.init_lock} (another campaigner is starting it)"
    ):
        account = server.server_account()
        server.check_reachable(layout, account)
        binaries = server.usable_binaries(layout, account)
        if not (layout.pgdata / "PG_VERSION").exists():
            server.initdb(layout, account, binaries)
        postmaster = server.running(layout)
        if postmaster is None:
            server.check_version(layout, binaries)
            postmaster = server.start(layout, account, binaries)
        return url_for(postmaster.socket_dir, postmaster.port)


def _acquire(config: Config, *, pin: bool = False) -> str:
    layout = server.Layout(data_dir(config))
    with _leases_lock:
        lease = _leases.get(layout.root)
        if lease is None:
            server.prepare_root(layout)
            fd = os.open(layout.users_lock, os.O_RDWR | os.O_CLOEXEC)
            try:
                # Blocks while a last user is stopping the server (it holds the lock exclusively).
                server.flock(
                    fd,
                    fcntl.LOCK_SH,
                    f"{layout.users_lock} (the server is being stopped)",
                    server.LOCK_TIMEOUT,
                )
                lease = _Lease(fd, _bring_up(layout))
            except BaseException:
                os.close(fd)
                raise
            _leases[layout.root] = lease
            _register_atexit()
        elif server.running(layout) is None:  # stopped under us (`campaigner db stop --force`)
            lease.url = _bring_up(layout)
        if not (pin and lease.pinned):
            lease.count += 1
        lease.pinned = lease.pinned or pin
        return lease.url


def _leave(layout: server.Layout, lease: _Lease) -> None:
    """Give up this process's lease; stop the server if no other process holds one."""
    try:
        # Not an atomic upgrade, on purpose: of several processes leaving at once, at least one wins.
        fcntl.flock(lease.fd, fcntl.LOCK_UN)
        try:
            fcntl.flock(lease.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # someone else still uses it
        with server.flocked(layout.init_lock, fcntl.LOCK_EX, f"{layout.init_lock}"):
            if server.running(layout) is not None:
                account = server.server_account()
                server.stop(layout, account, server.usable_binaries(layout, account))
    finally:
        os.close(lease.fd)


def _release(config: Config, *, all_uses: bool = False) -> None:
    layout = server.Layout(data_dir(config))
    with _leases_lock:
        lease = _leases.get(layout.root)
        if lease is None:
            return
        lease.count = 0 if all_uses else lease.count - 1
        if lease.count > 0:
            return
        del _leases[layout.root]
        _leave(layout, lease)


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(_release_everything)
        _atexit_registered = True


def _release_everything() -> None:
    with _leases_lock:
        leases = list(_leases.items())
        _leases.clear()
    for root, lease in leases:
        with contextlib.suppress(Exception):  # at exit there is nobody left to tell
            _leave(server.Layout(root), lease)


def ensure_embedded(config: Config) -> str:
    """Start (or join) the embedded server of `config` and return its URL.

    The process keeps using it until it exits (or `release_embedded`); the last process to leave
    stops it. Blocking (up to a second on first use); safe to call from several threads/processes.
    """
    return _acquire(config, pin=True)


def release_embedded(config: Config) -> None:
    """Drop every use this process has of the embedded server; stop it if no other process uses it."""
    _release(config, all_uses=True)


@contextlib.asynccontextmanager
async def embedded_database(config: Config) -> AsyncIterator[str]:
    """`async with embedded_database(config) as url:` the embedded server, up for the block."""
    url = await asyncio.to_thread(_acquire, config)
    try:
        yield url
    finally:
        await asyncio.to_thread(_release, config)


def stop_embedded(config: Config, *, force: bool = False) -> bool:
    """Stop the embedded server (`campaigner db stop`). False if it was not running.

    Refuses while another campaigner process uses it, unless `force` (their connections drop).
    """
    layout = server.Layout(data_dir(config))
    release_embedded(config)  # this process's own use does not count
    if server.running(layout) is None:
        return False
    fd = os.open(layout.users_lock, os.O_RDWR | os.O_CLOEXEC)
    try:
        try:
            # A short wait lets a last user that is stopping the server right now finish.
            server.flock(fd, fcntl.LOCK_EX, str(layout.users_lock), 0.0 if force else 1.0)
        except EmbeddedError:
            if not force:
                users = server.lock_holders(layout.users_lock)
                raise EmbeddedError(
                    f"embedded PostgreSQL in {layout.pgdata} is in use by {users or 'other'} campaigner "
                    "process(es): stop them first, or use --force"
                ) from None
        with server.flocked(layout.init_lock, fcntl.LOCK_EX, str(layout.init_lock)):
            if server.running(layout) is None:
                return False
            account = server.server_account()
            server.stop(layout, account, server.usable_binaries(layout, account))
    finally:
        os.close(fd)
    return True


def embedded_status(config: Config) -> dict[str, Any]:
    """What `campaigner db status` shows about the embedded server; never starts it.

    Keys: data_dir, initialised, running, pid, url (no password: trust over a private socket),
    server_version (of the installed binaries), data_version (major version of the data),
    server_user, users (processes using it now, or None where unknown).
    """
    layout = server.Layout(data_dir(config))
    postmaster = server.running(layout)
    version_file = layout.pgdata / "PG_VERSION"
    try:
        server_version: str | None = binaries_version()
    except EmbeddedError:
        server_version = None
    return {
        "data_dir": str(layout.root),
        "initialised": version_file.exists(),
        "running": postmaster is not None,
        "pid": postmaster.pid if postmaster else None,
        "url": url_for(postmaster.socket_dir, postmaster.port) if postmaster else None,
        "server_version": server_version,
        "data_version": version_file.read_text().strip() if version_file.exists() else None,
        "server_user": SERVER_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name,
        "users": server.lock_holders(layout.users_lock) if layout.users_lock.exists() else 0,
    }
