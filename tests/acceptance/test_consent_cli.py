"""`campaigner suppress import-consent`, `suppress export`, `suppress history` and the preview's
no_consent count, run as a user runs them against a real database (issue 16): in-process through
main(), the first through a real subprocess."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from campaigner.store.store import Store
from tests.acceptance.test_daemon import ROOT
from tests.cli_helpers import run_in_process


async def campaigner(
    url: str, *args: str, expect: int = 0, env: dict[str, str] | None = None, subprocess_: bool = False
) -> tuple[str, str]:
    """`campaigner *args` in this process (tests/cli_helpers.py), or a real subprocess."""
    environment = {**os.environ, "CAMPAIGNER_DATABASE_URL": url, **(env or {})}
    environment.pop("CAMPAIGNER_CONFIG", None)
    if not subprocess_:
        done = await asyncio.to_thread(run_in_process, list(args), env=environment, cwd=ROOT)
        assert done.returncode == expect, (args, done.returncode, done.stdout, done.stderr)
        return done.stdout, done.stderr
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "campaigner", *args, cwd=ROOT, env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == expect, (args, proc.returncode, out.decode(), err.decode())
    return out.decode(), err.decode()


async def test_a_consent_list_is_imported_whole_or_not_at_all_and_exported_for_an_auditor(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "consents.csv"
    bad.write_text(
        "phone,opted_in_at,source\n"
        "+31612345678,2026-01-05T10:00:00Z,web form\n"
        "+31612345679,last tuesday,web form\n",
        encoding="utf-8",
    )
    _, err = await campaigner(
        database_url, "suppress", "import-consent", str(bad), expect=2, subprocess_=True
    )
    assert f"{bad}:3:2: opted_in_at 'last tuesday' is not an ISO 8601 time" in err
    assert "Traceback" not in err
    assert await store.consented_numbers() == set()  # nothing recorded
    bad.write_text("phone,opted_in_at,source\n12,2026-01-05T10:00:00Z,web form\n", encoding="utf-8")
    _, err = await campaigner(database_url, "suppress", "import-consent", str(bad), expect=2)
    assert f"{bad}:2:1: '12' is not a phone number" in err
    bad.write_text("phone,when\n+31612345678,2026-01-05\n", encoding="utf-8")
    _, err = await campaigner(database_url, "suppress", "import-consent", str(bad), expect=2)
    assert f"{bad}:1: the header needs opted_in_at, source" in err

    good = tmp_path / "good.csv"
    good.write_text(
        "phone,opted_in_at,source\n"
        "+31612345678,2026-01-05T10:00:00Z,web form\n"
        "+31612345679,2026-01-06T11:00:00+01:00,shop till 4\n",
        encoding="utf-8",
    )
    out, _ = await campaigner(database_url, "suppress", "import-consent", str(good))
    assert "2 opt-ins recorded (2 new" in out
    assert await store.consented_numbers() == {"+31612345678", "+31612345679"}
    await campaigner(database_url, "suppress", "add", "+31612345679")

    out, _ = await campaigner(database_url, "suppress", "export", "--since", "1d", "--format", "json")
    rows = json.loads(out)
    assert [(r["e164"], r["action"]) for r in rows] == [
        ("+31612345678", "imported"),
        ("+31612345679", "imported"),
        ("+31612345679", "manual_add"),
    ]
    assert rows[0]["source"] == "import:good.csv:2: web form"
    assert rows[0]["occurred_at"].startswith("2026-01-05T10:00:00")
    assert rows[2]["source"].startswith("cli:") and "@" in rows[2]["source"]
    out, _ = await campaigner(database_url, "suppress", "export", "--since", "2020-01-01")
    assert len(list(csv.reader(io.StringIO(out)))) == 4  # a header and the three rows
    _, err = await campaigner(database_url, "suppress", "export", "--since", "soon", expect=2)
    assert "--since: 'soon' is neither an ISO 8601 time" in err

    out, _ = await campaigner(database_url, "suppress", "history", "+31612345679")
    assert "suppressed (account)" in out and "imported" in out and "manual_add" in out


async def test_the_preview_counts_numbers_without_an_opt_in_when_one_is_required(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    await store.import_consents([("+31612345678", datetime.now(UTC), "t")])
    people = tmp_path / "people.csv"
    people.write_text("phone\n+31612345678\n+31612345679\n+31612345670\n", encoding="utf-8")
    required = {"CAMPAIGNER_CONSENT__REQUIRE_OPT_IN": "true"}
    out, _ = await campaigner(
        database_url, "preview", str(people), "--message", "Hi", "--format", "json", env=required
    )
    preview = json.loads(out)
    assert (preview["sendable"], preview["no_consent"]) == (3, 2)
    out, _ = await campaigner(database_url, "preview", str(people), "--message", "Hi", env=required)
    assert "no_consent" in out
    out, _ = await campaigner(database_url, "preview", str(people), "--message", "Hi", "--format", "json")
    assert json.loads(out)["no_consent"] is None  # not required: not counted
