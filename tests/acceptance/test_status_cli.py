"""`campaigner status` as a user reads it: who carries the campaign, why it waits, what it sends,
the recent rate and an ETA only while something sends; `--watch` until the campaign ends."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from campaigner.store.store import Store
from tests.acceptance.test_lifecycle_cli import campaigner

ROOT = Path(__file__).resolve().parents[2]


def recipients(tmp_path: Path) -> Path:
    path = tmp_path / "r.csv"
    path.write_text("name,phone\nAnn,+31612345678\nBob,+31612345679\nCem,+4915112345678\n", encoding="utf-8")
    return path


async def created(database_url: str, tmp_path: Path, *options: str) -> str:
    out, _ = await campaigner(
        database_url, "create", str(recipients(tmp_path)), "-m", "Hi {name}, the sale starts",
        "--name", "spring", "--format", "json", *options,
    )  # fmt: skip
    return str(json.loads(out)["id"])


async def test_a_running_campaign_nobody_carries_says_so_with_what_it_sends(
    database_url: str, tmp_path: Path
) -> None:
    campaign_id = await created(database_url, tmp_path, "--quiet-hours", "21:00-08:00")
    draft, _ = await campaigner(database_url, "status", campaign_id)
    assert f"waiting: draft: not started (resume it, or `campaigner run {campaign_id}`)" in draft
    assert "rate" not in draft  # a draft's rate says nothing
    assert "message: Hi {name}, the sale starts" in draft
    assert "as sent: Hi Ann, the sale starts (line 2; 1 segment, GSM-7)" in draft
    assert "schedule: quiet hours: sends only 21:00-08:00 in the recipients' time" in draft

    await campaigner(database_url, "resume", campaign_id)
    out, _ = await campaigner(database_url, "status", campaign_id)
    lines = out.splitlines()
    assert lines[0] == f"campaign {campaign_id} 'spring': running"
    assert lines[1] == f"  no live worker: start `campaigner daemon` or `campaigner run {campaign_id}`"
    assert "  0 of 3 done (0.0%); pending 3" in lines
    assert "to go" not in out  # nothing sends: no ETA
    facts = json.loads((await campaigner(database_url, "status", campaign_id, "--format", "json"))[0])
    assert facts["wait"]["code"] == "no_worker" and facts["eta_seconds"] is None
    assert facts["workers"]["live"] == [] and facts["quiet_hours"] == {"start": "21:00", "end": "08:00"}
    assert facts["total"] == 3 and isinstance(facts["estimated_cost"], float)  # numbers as numbers


async def test_a_live_worker_is_named_as_the_carrier(database_url: str, tmp_path: Path, store: Store) -> None:
    campaign_id = await created(database_url, tmp_path)
    await campaigner(database_url, "resume", campaign_id)
    await store.register_worker("host-a:4242:cafe", "host-a", 4242)
    out, _ = await campaigner(database_url, "status", campaign_id)
    carried = r"  carried by host-a:4242:cafe \(pid 4242 on host-a, heartbeat \d+ s ago\)"
    assert any(re.fullmatch(carried, line) for line in out.splitlines()), out
    assert "no live worker" not in out


async def test_watch_prints_a_line_an_interval_off_a_terminal_until_the_campaign_ends(
    database_url: str, tmp_path: Path
) -> None:
    campaign_id = await created(database_url, tmp_path)
    await campaigner(database_url, "resume", campaign_id)
    env = {**os.environ, "CAMPAIGNER_DATABASE_URL": database_url}
    env.pop("CAMPAIGNER_CONFIG", None)
    watch = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "campaigner", "status", campaign_id, "--watch", "--interval", "0.2",
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert watch.stdout is not None
    try:
        seen = [(await asyncio.wait_for(watch.stdout.readline(), 30)).decode() for _ in range(2)]
        assert all(line.startswith(f"campaign {campaign_id}: running; 0/3 done (0.0%)") for line in seen)
        await campaigner(database_url, "cancel", campaign_id)
        rest, err = await asyncio.wait_for(watch.communicate(), 30)
    finally:
        if watch.returncode is None:
            watch.kill()
            await watch.wait()
    assert watch.returncode == 0, err.decode()
    assert rest.decode().splitlines()[-1].startswith(f"campaign {campaign_id}: cancelled; 3/3 done")


async def test_send_detach_warns_when_no_worker_would_send_it(database_url: str, tmp_path: Path) -> None:
    out, err = await campaigner(database_url, "send", str(recipients(tmp_path)), "-m", "Hi", "--detach", "-y")
    assert "campaign 1 is running: a `campaigner daemon` on this database sends it" in out
    assert "warning: no live worker: start `campaigner daemon` or `campaigner run 1`; until then" in err
