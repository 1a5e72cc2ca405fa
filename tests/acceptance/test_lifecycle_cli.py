"""Every lifecycle command run as a user runs it: a subprocess with CAMPAIGNER_DATABASE_URL."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import run_in_process

ROOT = Path(__file__).resolve().parents[2]


async def campaigner(url: str, *args: str, expect: int = 0, subprocess_: bool = False) -> tuple[str, str]:
    """Run `campaigner ARGS` against database `url` (in this process, tests/cli_helpers.py, or a
    real subprocess); returns stdout and stderr."""
    env = {**os.environ, "CAMPAIGNER_DATABASE_URL": url}
    env.pop("CAMPAIGNER_CONFIG", None)
    if not subprocess_:
        done = await asyncio.to_thread(run_in_process, list(args), env=env, cwd=ROOT)
        assert done.returncode == expect, (args, done.returncode, done.stdout, done.stderr)
        return done.stdout, done.stderr
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "campaigner",
        *args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == expect, (args, proc.returncode, out.decode(), err.decode())
    return out.decode(), err.decode()


@pytest.fixture
def recipients(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    rows = ["name,phone"] + [f"P{i},+316{30_000_000 + i:08d}" for i in range(50)] + ["Bad,12"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


async def test_db_upgrade_and_status_on_an_empty_database(empty_database_url: str) -> None:
    out, _ = await campaigner(empty_database_url, "db", "status", "--format", "json", subprocess_=True)
    before = json.loads(out)  # status changes nothing, even on a database campaigner never saw
    assert before["applied"] == [] and before["pending"][0]["version"] == 1 and before["workers"] == []
    out, _ = await campaigner(empty_database_url, "db", "upgrade")
    assert "applied 0001 schema" in out
    out, _ = await campaigner(empty_database_url, "db", "upgrade")
    assert out.strip() == "schema up to date"
    out, _ = await campaigner(empty_database_url, "db", "status", "--format", "json")
    assert json.loads(out)["pending"] == []


async def test_create_status_pause_resume_cancel_export(
    database_url: str, recipients: Path, tmp_path: Path
) -> None:
    out, _ = await campaigner(
        database_url, "create", str(recipients), "-m", "Hi {name}", "--name", "spring", "--format", "json"
    )
    created = json.loads(out)
    campaign_id = str(created["id"])
    assert created["state"] == "draft" and created["preview"]["sendable"] == 50

    out, _ = await campaigner(database_url, "campaigns", "--format", "json")
    (listed,) = json.loads(out)
    assert listed["name"] == "spring" and listed["state"] == "draft" and listed["total"] == 50

    out, _ = await campaigner(database_url, "status", campaign_id, "--format", "json")
    status = json.loads(out)
    assert status["counts"]["pending"] == 50 and status["total"] == 50 and status["state"] == "draft"

    assert "running" in (await campaigner(database_url, "resume", campaign_id))[0]
    assert "paused" in (await campaigner(database_url, "pause", campaign_id))[0]
    assert "running" in (await campaigner(database_url, "resume", campaign_id))[0]
    out, _ = await campaigner(database_url, "cancel", campaign_id)
    assert "50 pending jobs cancelled" in out
    _, err = await campaigner(database_url, "resume", campaign_id, expect=2)
    assert (
        err.strip()
        == f"error: campaign {campaign_id} is cancelled: only a paused or draft campaign can be resumed"
    )

    target = tmp_path / "out.csv"
    await campaigner(database_url, "export", campaign_id, "--out", str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) == 50 and {r["state"] for r in rows} == {"cancelled"}
    out, _ = await campaigner(database_url, "export", campaign_id)
    assert out.count("\n") == 51


async def test_create_with_send_at_is_scheduled(database_url: str, recipients: Path) -> None:
    out, _ = await campaigner(
        database_url,
        "create",
        str(recipients),
        "-m",
        "Hi",
        "--send-at",
        "2099-01-01T09:00+01:00",
        "--format",
        "json",
    )
    campaign_id = str(json.loads(out)["id"])
    out, _ = await campaigner(database_url, "resume", campaign_id)
    assert "scheduled" in out
    _, err = await campaigner(
        database_url, "create", str(recipients), "-m", "Hi", "--send-at", "2020-01-01T09:00", expect=2
    )
    assert err.strip() == "error: --send-at: '2020-01-01T09:00' is in the past; leave it out to send now"


async def test_a_bad_file_creates_no_campaign(database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,phone\nAnn,+31612345678\n", encoding="utf-8")
    _, err = await campaigner(database_url, "create", str(bad), "-m", "Hi {nickname}", expect=2)
    assert err.startswith("error: ") and "nickname" in err
    out, _ = await campaigner(database_url, "campaigns", "--format", "json")
    assert json.loads(out) == []


async def test_unknown_campaign_and_unreachable_database_are_one_line(database_url: str) -> None:
    _, err = await campaigner(database_url, "status", "424242", expect=2)
    assert err.strip() == "error: campaign 424242 does not exist"
    _, err = await campaigner("postgresql://postgres:s3cret@127.0.0.1:1/nowhere", "campaigns", expect=2)
    assert err.startswith("error: cannot connect to PostgreSQL at 127.0.0.1:1/nowhere")
    assert "s3cret" not in err and err.count("\n") == 1
    # Mistyped URLs: the password must not be echoed from where a URL parser cannot find it.
    for url in (
        "postgresql//admin:s3cret@127.0.0.1:1/x",
        "admin:s3cret@127.0.0.1/x",
        "host=127.0.0.1 password=s3cret",
        "postgresql://admin:s3cret@127.0.0.1:99999/x",
    ):
        _, err = await campaigner(url, "campaigns", expect=2)
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert "s3cret" not in err and "Traceback" not in err


async def test_suppress_add_import_list_remove(database_url: str, recipients: Path, tmp_path: Path) -> None:
    out, _ = await campaigner(database_url, "create", str(recipients), "-m", "Hi", "--format", "json")
    campaign_id = str(json.loads(out)["id"])
    await campaigner(database_url, "suppress", "add", "+31630000000", "--reason", "asked")
    listing = tmp_path / "stop.csv"
    listing.write_text("phone\n+31630000001\n0031 6 3000 0002\n", encoding="utf-8")
    out, _ = await campaigner(database_url, "suppress", "import", str(listing))
    assert out.startswith("2 added")
    out, _ = await campaigner(database_url, "suppress", "list", "--format", "json")
    assert [r["e164"] for r in json.loads(out)] == ["+31630000000", "+31630000001", "+31630000002"]
    out, _ = await campaigner(database_url, "status", campaign_id, "--format", "json")
    assert json.loads(out)["counts"]["pending"] == 50  # skipped when claimed (test_send_cli.py)
    await campaigner(database_url, "suppress", "remove", "+31630000000")
    out, _ = await campaigner(database_url, "suppress", "list")
    assert "+31630000000" not in out
    broken = tmp_path / "broken.csv"
    broken.write_text("+31630000009\nnot a number 5\n", encoding="utf-8")
    _, err = await campaigner(database_url, "suppress", "import", str(broken), expect=2)
    assert f"{broken}: line 2" in err
    out, _ = await campaigner(database_url, "suppress", "list", "--format", "json")
    assert len(json.loads(out)) == 2  # nothing from the broken file
    export = tmp_path / "export.csv"  # a CRM export: the phone column is found by its header
    export.write_text("name,Mobile,city\nAnn,+31630000003,Utrecht\nBob,,Delft\n", encoding="utf-8")
    out, _ = await campaigner(database_url, "suppress", "import", str(export))
    assert out.startswith("1 added")


async def test_create_with_quiet_hours_says_its_time_to_send_counts_sending_hours_only(
    database_url: str, recipients: Path
) -> None:
    out, _ = await campaigner(
        database_url, "create", str(recipients), "-m", "Hi", "--quiet-hours", "09:00-21:00"
    )
    assert "sending time only: sends pause outside 09:00-21:00 recipient-local time" in " ".join(out.split())
    out, _ = await campaigner(database_url, "create", str(recipients), "-m", "Hi")
    assert "sending time only" not in out
    _, err = await campaigner(
        database_url, "create", str(recipients), "-m", "Hi", "--quiet-hours", "09:00-09:00", expect=2
    )
    assert err.strip() == "error: --quiet-hours: '09:00-09:00' is an empty window: nothing could ever be sent"
    bad = recipients.with_name("bad.csv")
    bad.write_text("name,phone\nA,12\n", encoding="utf-8")
    _, err = await campaigner(database_url, "create", str(bad), "-m", "Hi", expect=2)
    assert err.strip().endswith(
        "nothing to send: its one row was set aside (invalid 1); no campaign was created"
    )
    out, _ = await campaigner(database_url, "campaigns", "--format", "json")
    assert len(json.loads(out)) == 2  # the refused ones left nothing behind


async def test_square_brackets_in_user_text_are_printed_as_they_are(
    database_url: str, tmp_path: Path
) -> None:
    # rich would read "[/b]" as a closing tag (a MarkupError) and "[red]x[/red]" as a style.
    path = tmp_path / "[bold]brackets.csv"
    path.write_text("name,phone\nA,[/b]bogus\nB,+31630000001\n", encoding="utf-8")
    out, err = await campaigner(
        database_url, "create", str(path), "-m", "Hi", "--name", "Promo [/sale] [red]x[/red]"
    )
    assert "[/b]bogus" in out and "[bold]brackets.csv" in out and "Traceback" not in err
    out, err = await campaigner(database_url, "campaigns")
    assert "Promo [/sale] [red]x[/red]" in " ".join(out.split()) and "Traceback" not in err
