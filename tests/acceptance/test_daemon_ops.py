"""The daemon as an operator sees it: systemd's notifications on a real socket, and its log lines
(start line, progress per campaign, summary, and campaign_id/worker_id on every dispatcher line)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import socket
from pathlib import Path

import pytest

from campaigner import __version__
from campaigner.app import daemon as daemon_module
from campaigner.app.daemon import Daemon
from campaigner.app.logs import setup_logging
from campaigner.config import config_from_mapping
from campaigner.store.store import Store
from tests.acceptance.test_daemon import (
    KEY,
    SECRET,
    daemon_settings,
    free_port,
    start_daemon,
    write_toml,
)
from tests.builders import create_running_campaign, numbers
from tests.dispatch_helpers import API_KEY_ENV, WEBHOOK_SECRET_ENV
from tests.fixtures.sandbox import MakeSandbox


async def test_the_daemon_tells_systemd_when_it_is_ready_and_when_it_stops(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = await make_sandbox()
    config = write_toml(tmp_path / "c.toml", daemon_settings(sandbox, database_url, free_port()))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(tmp_path / "notify.sock"))
    listener.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    loop = asyncio.get_running_loop()
    process = await start_daemon(config)
    try:
        ready = await asyncio.wait_for(loop.sock_recv(listener, 4096), 30)
        assert ready.split(b"\n")[0] == b"READY=1"
        assert b"STATUS=listening on 127.0.0.1:" in ready
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(loop.sock_recv(listener, 4096), 30) == b"STOPPING=1"
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        listener.close()
    assert process.returncode == 0, stderr.decode()
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    start = next(line for line in lines if "daemon started" in line["msg"])
    assert start["msg"].startswith(f"campaigner {__version__} daemon started as worker ")
    assert "provider cliqtel, account 'default', limits " in start["msg"]
    # The signal handler's line is logged from the event loop's own callback, outside any task.
    after = [line for line in lines[lines.index(start) :] if line["logger"] != "campaigner.app.signals"]
    assert start["worker_id"] and all(line.get("worker_id") == start["worker_id"] for line in after)


async def test_log_lines_name_their_campaign_and_worker_with_progress_and_a_summary(
    store: Store,
    database_url: str,
    make_sandbox: MakeSandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(API_KEY_ENV, KEY)
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, SECRET)
    monkeypatch.setattr(daemon_module, "PROGRESS_EVERY", 0.25)
    # 40 messages at 20 a second: about two seconds of sending, several progress intervals.
    sandbox = await make_sandbox(requests_per_minute=1200, request_window=6.0, messages_per_second=20)
    config = config_from_mapping(daemon_settings(sandbox, database_url, free_port()), source="<test>")
    campaign_id = await create_running_campaign(store, numbers(40))
    level = logging.getLogger().level
    setup_logging("INFO", json_lines=True)
    try:
        daemon = Daemon(config, burst=True)
        await asyncio.wait_for(daemon.run(), 60)
    finally:
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "_campaigner_handler", False):
                logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    dispatcher = [line for line in lines if line["logger"].startswith("campaigner.dispatch")]
    assert dispatcher, "the dispatcher logged nothing"
    assert all(line.get("campaign_id") == campaign_id and line.get("worker_id") for line in dispatcher)
    progress = [line for line in lines if re.match(r"campaign \d+: \d+ of 40 sent, \d+ to send", line["msg"])]
    assert progress and all(line["campaign_id"] == campaign_id for line in progress)
    assert "/s over the last" not in progress[0]["msg"]  # no interval yet to measure a rate over
    assert any(re.search(r", [\d.]+/s over the last 0.25 s$", line["msg"]) for line in progress[1:])
    summary = [line for line in lines if line["msg"].startswith(f"campaign {campaign_id}: completed after")]
    assert len(summary) == 1 and "40 accepted, 0 rejected" in summary[0]["msg"]
