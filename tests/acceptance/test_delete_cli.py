"""`campaigner delete`: a draft or ended campaign goes with all its jobs; anything that may still
send is refused; the question can be answered no or Ctrl-C'd, and both keep everything."""

from __future__ import annotations

import asyncio
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg

from tests.acceptance.test_lifecycle_cli import campaigner
from tests.dispatch_helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


# The read system call's number, which /proc/PID/syscall starts with while a process waits in it.
_READ = {"x86_64": 0, "aarch64": 63}.get(os.uname().machine, 0)


def _syscall(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/syscall").read_text()  # one line the kernel writes: instant
    except OSError:
        return ""


async def reading_stdin(pid: int) -> bool:
    """Whether process `pid` is blocked reading its standard input (fd 0)."""
    return _syscall(pid).startswith(f"{_READ} 0x0 ")


async def rows(url: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(url)
    try:
        return (
            await conn.fetchval("SELECT count(*) FROM campaigns"),
            await conn.fetchval("SELECT count(*) FROM jobs"),
            await conn.fetchval("SELECT count(DISTINCT campaign_id) FROM job_counts"),
        )
    finally:
        await conn.close()


async def test_delete_drafts_and_ended_campaigns_only(database_url: str, tmp_path: Path) -> None:
    recipients = tmp_path / "r.csv"
    recipients.write_text("phone\n+31612345678\n+31612345679\n", encoding="utf-8")
    for _ in range(3):
        await campaigner(database_url, "create", str(recipients), "-m", "Hi")
    await campaigner(database_url, "resume", "2")
    await campaigner(database_url, "resume", "3")
    await campaigner(database_url, "cancel", "3")

    _, err = await campaigner(database_url, "delete", "2", "--yes", expect=2)
    assert "campaign 2 is running: only a draft or an ended campaign can be deleted" in err
    _, err = await campaigner(database_url, "delete", "1", expect=2)  # no terminal to ask on
    assert "delete asks first, and there is no terminal to ask on: pass --yes" in err
    assert await rows(database_url) == (3, 6, 3)

    out, _ = await campaigner(database_url, "delete", "1", "--yes")
    assert out.strip() == "campaign 1 deleted with its 2 jobs"
    out, _ = await campaigner(database_url, "delete", "3", "-y")
    assert out.strip() == "campaign 3 deleted with its 2 jobs"
    assert await rows(database_url) == (1, 2, 1)  # campaign 2, its jobs and counters, nothing else
    _, err = await campaigner(database_url, "delete", "3", "-y", expect=2)
    assert "campaign 3 does not exist" in err


async def test_ctrl_c_at_the_question_keeps_everything_and_says_so(database_url: str, tmp_path: Path) -> None:
    recipients = tmp_path / "r.csv"
    recipients.write_text("phone\n+31612345678\n+31612345679\n", encoding="utf-8")
    await campaigner(database_url, "create", str(recipients), "-m", "Hi", "--name", "spring")
    env = {**os.environ, "CAMPAIGNER_DATABASE_URL": database_url}
    env.pop("CAMPAIGNER_CONFIG", None)
    controller, terminal = pty.openpty()  # a terminal on stdin, as a user's shell gives it
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "campaigner", "delete", "1", cwd=ROOT, env=env,
            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            # A shell gives its foreground command SIGINT as it is by default; a test run in the
            # background (CI, `pytest &`) inherits it ignored, and Python would then ignore Ctrl-C.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        assert process.stderr is not None
        asked = b""
        while b"cannot be undone" not in asked:
            asked += await asyncio.wait_for(process.stderr.read(200), 30)
        assert b"Delete campaign 1 'spring' (draft) and its 2 jobs? This cannot be undone [y/N]" in asked
        # A person's Ctrl-C comes while the question waits for an answer: so does this one (a signal
        # in the instant before the read starts is only seen when the read ends, in any program).
        await wait_for(lambda: reading_stdin(process.pid), 30, "the question to wait for an answer")
        process.send_signal(signal.SIGINT)  # one Ctrl-C, as the terminal sends it
        _out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        os.close(controller)
        os.close(terminal)
    assert process.returncode == 130
    assert "aborted: campaign 1 and its 2 jobs are kept" in err.decode()
    assert "Traceback" not in err.decode()
    assert await rows(database_url) == (1, 2, 1)
