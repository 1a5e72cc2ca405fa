"""Issue 14 at the command line: every path of `send` that keeps a draft says so; `campaigns` shows
escape sequences in names instead of running them; ids beyond a bigint and NULs are clear errors."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import asyncpg

from tests.acceptance.test_daemon import free_port
from tests.cli_helpers import run_in_process

ROOT = Path(__file__).resolve().parents[2]


async def campaigner(
    url: str, *args: str, config: Path | None = None, subprocess_: bool = False
) -> tuple[int, str, str]:
    """`campaigner *args` in this process (tests/cli_helpers.py), or a real subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGNER_")}
    env |= {"CAMPAIGNER_DATABASE_URL": url, "CLIQTEL_API_KEY": "17|not-a-real-key", "COLUMNS": "200"}
    if config is not None:
        env["CAMPAIGNER_CONFIG"] = str(config)
    if not subprocess_:
        done = await asyncio.to_thread(run_in_process, list(args), env=env, cwd=ROOT)
        assert "Traceback" not in done.stderr, done.stderr
        return done.returncode, done.stdout, done.stderr
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "campaigner", *args, cwd=ROOT, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    assert "Traceback" not in err.decode(), err.decode()
    return proc.returncode, out.decode(), err.decode()


def recipients(tmp_path: Path, name: str = "customers.csv") -> Path:
    path = tmp_path / name
    path.write_text("name,phone\nA,+31612345678\nB,+31612345679\n", encoding="utf-8")
    return path


async def test_send_says_it_kept_the_draft_after_a_provider_error(database_url: str, tmp_path: Path) -> None:
    config = tmp_path / "campaigner.toml"
    config.write_text(
        f'[provider]\nbase_url = "http://127.0.0.1:{free_port()}/api/v1/sms"\n'
        'sender = "+3197010203040"\nconnect_timeout = 0.5\nread_timeout = 0.5\n',
        encoding="utf-8",
    )
    code, out, err = await campaigner(
        database_url, "send", str(recipients(tmp_path)), "-m", "Hi", "-y", config=config
    )
    assert code != 0, out + err
    assert re.search(r"campaign (\d+) is kept as a draft \(`campaigner run \1`\)", err), err
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT state FROM campaigns") == "draft"
    finally:
        await conn.close()


async def test_campaigns_shows_escape_sequences_in_names_escaped(database_url: str, tmp_path: Path) -> None:
    name = "spring\x1b]0;owned\x07\x1b[2J sale"
    code, _, err = await campaigner(
        database_url, "create", str(recipients(tmp_path)), "-m", "Hi", "--name", name
    )
    assert code == 0, err
    code, out, err = await campaigner(database_url, "campaigns")
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out
    assert "spring\\x1b]0;owned\\x07\\x1b[2J sale" in out


async def test_ids_beyond_a_bigint_and_nuls_are_clear_errors(database_url: str, tmp_path: Path) -> None:
    for command in ("status", "pause", "resume", "cancel", "export", "run", "retry"):
        code, _, err = await campaigner(database_url, command, str(2**64))
        assert code == 2 and "CAMPAIGN_ID" in err and "range" in err, (command, err)
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"name,phone\nA\x00,+31612345678\n")
    for command in ("preview", "create"):
        code, _, err = await campaigner(database_url, command, str(nul), "-m", "Hi {name}")
        assert code == 2 and "nul.csv: line 2, column 'name'" in err and "NUL" in err, err
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM campaigns") == 0
    finally:
        await conn.close()


async def test_a_stray_quote_is_a_preview_warning_and_an_error_with_strict(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('name,phone\n"abc\n+31632000001,d",+31612345678\nX,+31612345671\n', encoding="utf-8")
    code, out, err = await campaigner(
        database_url, "preview", str(path), "-m", "Hi {name}", "--format", "json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert (data["rows"], data["multiline_rows"], data["extra_lines"]) == (2, 1, 1)
    (warning,) = data["warnings"]
    assert (warning["first_line"], warning["last_line"], warning["column"]) == (2, 3, "name")
    code, out, err = await campaigner(database_url, "preview", str(path), "-m", "Hi {name}")
    assert "Warnings" in out and "lines 2-3" in out
    for command in ("preview", "create"):
        code, out, err = await campaigner(database_url, command, str(path), "-m", "Hi {name}", "--strict")
        assert code == 2 and "quote.csv: lines 2-3: column 'name'" in err, err
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM campaigns") == 0
    finally:
        await conn.close()


async def test_send_says_it_kept_the_draft_when_terminated_before_the_first_message(
    database_url: str, tmp_path: Path
) -> None:
    connected = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()  # the run's pre-flight is asking the provider: the draft is loaded
        await reader.read()  # until the client goes away
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = tmp_path / "campaigner.toml"
    config.write_text(
        f'[provider]\nbase_url = "http://127.0.0.1:{port}/api/v1/sms"\nsender = "+3197010203040"\n'
        "read_timeout = 60\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGNER_")}
    env |= {
        "CAMPAIGNER_DATABASE_URL": database_url,
        "CAMPAIGNER_CONFIG": str(config),
        "CLIQTEL_API_KEY": "17|k",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "campaigner", "send", str(recipients(tmp_path)), "-m", "Hi", "-y",
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        await asyncio.wait_for(connected.wait(), 60)
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        server.close()
    assert proc.returncode != 0 and "Traceback" not in err.decode()
    assert re.search(r"campaign (\d+) is kept as a draft \(`campaigner run \1`\)", err.decode()), err.decode()
