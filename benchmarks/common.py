"""What the benchmarks share: a database of their own, free ports, a sandbox in its own process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid
from typing import Any

import asyncpg

ADMIN_URL = os.environ.get("CAMPAIGNER_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
API_KEY = "17|sandbox-full-access-key"  # the sandbox's own full-access test key


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sandbox_stats(port: int) -> dict[str, Any]:
    """GET /_sandbox/stats with per-recipient counts."""
    url = f"http://127.0.0.1:{port}/_sandbox/stats?per_recipient=1"
    with urllib.request.urlopen(url, timeout=30) as reply:
        return dict(json.loads(reply.read()))


def wait_for_sandbox(port: int, process: subprocess.Popen[bytes] | None = None, within: float = 20.0) -> None:
    """Return once the sandbox on `port` answers; kill `process` and raise if it never does."""
    deadline = time.monotonic() + within
    while True:
        try:
            sandbox_stats(port)
            return
        except OSError:
            if time.monotonic() > deadline or (process is not None and process.poll() is not None):
                if process is not None:
                    process.kill()
                raise RuntimeError("the sandbox did not start") from None
            time.sleep(0.05)


async def create_database(prefix: str = "campaigner_bench") -> tuple[str, str]:
    """A fresh, empty database; returns (name, url)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, ADMIN_URL.rsplit("/", 1)[0] + "/" + name


async def drop_database(name: str) -> None:
    """Drop a database made by `create_database`."""
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
