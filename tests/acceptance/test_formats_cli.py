"""One --format for the commands that print data, CAMPAIGNER_FORMAT for all of them, one JSON style,
and `campaigns --state`."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cli_helpers import run_in_process

ROOT = Path(__file__).resolve().parents[2]


def campaigner(url: str, *args: str, env: dict[str, str] | None = None, subprocess_: bool = False) -> str:
    """`campaigner *args` in this process (tests/cli_helpers.py), or a real subprocess."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGNER_")}
    if not subprocess_:
        full_env = clean | {"CAMPAIGNER_DATABASE_URL": url} | (env or {})
        done = run_in_process(list(args), env=full_env, cwd=ROOT)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout
    result = subprocess.run(
        [sys.executable, "-m", "campaigner", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=clean | {"CAMPAIGNER_DATABASE_URL": url} | (env or {}),
    )  # fmt: skip
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def test_campaigns_state_filter_and_csv_and_the_format_variable(database_url: str, tmp_path: Path) -> None:
    recipients = tmp_path / "r.csv"
    recipients.write_text("phone\n+31612345678\n+31612345679\n", encoding="utf-8")
    for name in ("=first", "second"):
        campaigner(database_url, "create", str(recipients), "-m", "Hi", "--name", name, subprocess_=True)
    campaigner(database_url, "resume", "2")

    running = json.loads(campaigner(database_url, "campaigns", "--state", "running", "--format", "json"))
    assert [c["id"] for c in running] == [2]
    both = json.loads(campaigner(database_url, "campaigns", "--state", "running", "--state", "draft",
                                 "--format", "json"))  # fmt: skip
    assert [c["id"] for c in both] == [1, 2] and isinstance(both[0]["estimated_cost"], float)

    rows = list(csv.DictReader(io.StringIO(campaigner(database_url, "campaigns", "--format", "csv"))))
    listed = [(r["id"], r["name"], r["state"]) for r in rows]
    assert listed == [("1", "'=first", "draft"), ("2", "second", "running")]  # never a formula

    # CAMPAIGNER_FORMAT is every command's default; one that lacks the format keeps its own default.
    as_json = {"CAMPAIGNER_FORMAT": "json"}
    assert json.loads(campaigner(database_url, "campaigns", env=as_json))[0]["id"] == 1
    assert json.loads(campaigner(database_url, "status", "1", env=as_json))["id"] == 1
    assert json.loads(campaigner(database_url, "db", "status", env=as_json))
    as_csv = {"CAMPAIGNER_FORMAT": "csv"}
    assert campaigner(database_url, "campaigns", env=as_csv).startswith("id,name,state,")
    assert campaigner(database_url, "status", "1", env=as_csv).startswith("campaign 1 '=first': draft")
    # An explicit --format wins over the variable; the old `text` still means table.
    assert campaigner(database_url, "status", "1", "--format", "table", env=as_json).startswith("campaign 1")
    assert not campaigner(database_url, "db", "status", "--format", "text").startswith("{")


def test_json_looks_the_same_everywhere(database_url: str, tmp_path: Path) -> None:
    recipients = tmp_path / "r.csv"
    recipients.write_text("phone\n+31612345678\n", encoding="utf-8")
    outputs = [
        campaigner(database_url, "preview", str(recipients), "-m", "Grüße", "--format", "json"),
        campaigner(database_url, "create", str(recipients), "-m", "Grüße", "--format", "json"),
        campaigner(database_url, "campaigns", "--format", "json"),
        campaigner(database_url, "status", "1", "--format", "json"),
        campaigner(database_url, "segments", "Grüße", "--format", "json"),
    ]
    for text in outputs:
        assert text.count("\n") == 1 and text.endswith("\n")  # one line
        value = json.loads(text)
        assert json.dumps(value, ensure_ascii=False, separators=(", ", ": ")) + "\n" == text
    assert '"message": "Grüße"' in outputs[3]  # UTF-8 kept, not \\u escapes


def test_a_campaigns_priority_is_stored_and_shown(database_url: str, tmp_path: Path) -> None:
    recipients = tmp_path / "r.csv"
    recipients.write_text("phone\n+31612345678\n", encoding="utf-8")
    campaigner(database_url, "create", str(recipients), "-m", "Hi", "--priority", "30")
    campaigner(database_url, "create", str(recipients), "-m", "Hi", env={"CAMPAIGNER_PRIORITY": "2"})
    campaigner(database_url, "create", str(recipients), "-m", "Hi")

    listed = json.loads(campaigner(database_url, "campaigns", "--format", "json"))
    assert [c["priority"] for c in listed] == [30, 2, 10]  # 10: the default
    assert json.loads(campaigner(database_url, "status", "1", "--format", "json"))["priority"] == 30
    assert "priority: 30" in campaigner(database_url, "status", "1")
    rows = list(csv.DictReader(io.StringIO(campaigner(database_url, "campaigns", "--format", "csv"))))
    assert [r["priority"] for r in rows] == ["30", "2", "10"]
