"""`campaigner preview` run as a user runs it: config and options from the environment (in this
process through the console script's main(); the JSON of the bundled example through a subprocess)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import campaigner
from tests.cli_helpers import run_in_process

EXAMPLES = Path(campaigner.__file__).parent / "examples"


def _run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, subprocess_: bool = False
) -> subprocess.CompletedProcess[str]:
    """`campaigner preview *args`: in this process (tests/cli_helpers.py), or a real subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGNER_")}
    full_env.update(env or {})
    if not subprocess_:
        return run_in_process(["preview", *args], env=full_env, cwd=cwd)
    return subprocess.run(
        [sys.executable, "-m", "campaigner", "preview", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=100,
    )


def _example(
    *extra: str, env: dict[str, str] | None = None, subprocess_: bool = False
) -> subprocess.CompletedProcess[str]:
    return _run(
        str(EXAMPLES / "recipients.csv"),
        "--message-file",
        str(EXAMPLES / "message.txt"),
        "--region",
        "NL",
        *extra,
        env=env,
        subprocess_=subprocess_,
    )


def test_json_output_of_the_bundled_example() -> None:
    result = _example("--format", "json", subprocess_=True)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for key in (
        "rows",
        "sendable",
        "invalid",
        "not_sms_capable",
        "duplicates",
        "suppressed",
        "segments_total",
    ):
        assert isinstance(data[key], int)
    assert data["rows"] == 300
    rejected = sum(data[k] for k in ("invalid", "not_sms_capable", "duplicates", "empty_value", "malformed"))
    assert data["sendable"] + rejected == 300
    assert data["invalid"] > 0 and data["not_sms_capable"] > 0 and data["duplicates"] > 0
    assert data["encodings"]["GSM-7"] > 0 and data["encodings"]["UCS-2"] > 0
    assert {c["country"] for c in data["by_country"]} >= {
        "NL",
        "DE",
        "GB",
        "US",
        "FR",
        "BE",
        "ES",
        "IN",
        "BR",
    }
    assert sum(c["recipients"] for c in data["by_country"]) == data["sendable"]
    assert sum(c["segments"] for c in data["by_country"]) == data["segments_total"]
    assert data["currency"] == "EUR" and data["cost_total"] > 0 and data["eta_seconds"] > 0


def test_table_output_has_every_section() -> None:
    result = _example(env={"COLUMNS": "120"})
    assert result.returncode == 0, result.stderr
    for part in (
        "sendable",
        "By country",
        "Encoding",
        "Segments per message",
        "First rejected rows",
        "time to send",
    ):
        assert part in result.stdout
    assert "Smart encoding" in result.stdout  # the example has curly apostrophes


def test_options_from_environment_variables(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("Mobiel;naam\n06 1234 5678;Anna\n", encoding="utf-8")
    env = {
        "CAMPAIGNER_MESSAGE": "Hoi {naam}",
        "CAMPAIGNER_REGION": "NL",
        "CAMPAIGNER_PHONE_COLUMN": "mobiel",
        "CAMPAIGNER_FORMAT": "json",
    }
    result = _run(str(path), env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sendable"] == 1


def test_config_file_prices_and_default_region(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[recipients]\ndefault_region = "NL"\n[pricing]\ncurrency = "USD"\ncountries = {NL = 0.05}\n'
    )
    path = tmp_path / "r.csv"
    path.write_text("phone\n0612345678\n", encoding="utf-8")
    result = _run(str(path), "-m", "hi", "--format", "json", env={"CAMPAIGNER_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["currency"], data["cost_total"], data["by_country"][0]["country"]) == ("USD", 0.05, "NL")


def test_output_files_and_formula_neutralisation(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "phone,name,note\n+31612345678,=HYPERLINK(1),@SUM(A1)\n+31612345678,dup,-2\nnope,\tx,+1\n",
        encoding="utf-8",
    )
    sendable, rejects = tmp_path / "ok.csv", tmp_path / "rej.csv"
    result = _run(
        str(path), "-m", "Hi {name}", "--sendable-out", str(sendable), "--rejects-out", str(rejects)
    )
    assert result.returncode == 0, result.stderr
    with open(sendable, encoding="utf-8", newline="") as file:
        assert list(csv.reader(file)) == [
            ["e164", "phone", "name", "note"],
            ["+31612345678", "'+31612345678", "'=HYPERLINK(1)", "'@SUM(A1)"],
        ]
    with open(rejects, encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["line", "raw", "reason", "detail", "phone", "name", "note"]
    assert rows[1][:3] == ["3", "'+31612345678", "duplicate"] and rows[1][4:] == [
        "'+31612345678",
        "dup",
        "'-2",
    ]
    assert rows[2][:3] == ["4", "nope", "invalid"] and rows[2][4:] == ["nope", "'\tx", "'+1"]


def test_user_errors_exit_2_with_one_line_and_write_nothing(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("phone,name\n+31612345678,Anna\n", encoding="utf-8")
    out = tmp_path / "ok.csv"
    cases = [
        (str(path), "-m", "Hi {city}", "--sendable-out", str(out)),  # unknown placeholder
        (str(tmp_path / "missing.csv"), "-m", "hi", "--sendable-out", str(out)),
        (str(path), "--sendable-out", str(out)),  # no message
        (str(path), "-m", "hi", "--message-file", "x.txt"),  # both
        (str(path), "--message-file", str(tmp_path / "none.txt")),
        (str(path), "-m", "hi", "--phone-column", "gsm"),
        (str(path), "-m", "hi", "--encoding", "nope"),
        (str(path), "-m", "Hi {name", "--sendable-out", str(out)),  # broken template
    ]
    for args in cases:
        result = _run(*args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, (args, result.stderr)
        assert result.stdout == ""
        assert not out.exists()
    assert not list(tmp_path.glob(".ok.csv.*"))  # no temporary file left behind
    # An unknown region is a usage error that names the option (click's two-line form).
    result = _run(str(path), "-m", "hi", "--region", "XX", "--sendable-out", str(out))
    assert (
        result.returncode == 2
        and "'--region'" in result.stderr
        and "'XX' is not a region code" in result.stderr
    )
    assert "Traceback" not in result.stderr and not out.exists()


def test_undecodable_row_names_the_line_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"phone,name\n" + b"+31612345678,Anna\n" * 3000 + b"+31612345679,Zo\xeb\n")
    out = tmp_path / "ok.csv"
    result = _run(str(path), "-m", "Hi {name}", "--sendable-out", str(out))
    assert result.returncode == 2
    assert "line 3002: not valid UTF-8" in result.stderr
    assert not out.exists()
    ok = _run(str(path), "-m", "Hi {name}", "--encoding", "cp1252", "--format", "json")
    assert json.loads(ok.stdout)["sendable"] == 2


def test_the_footer_options_change_the_segments_and_cost_shown(tmp_path: Path) -> None:
    recipients = tmp_path / "r.csv"
    recipients.write_text("phone\n+31612345678\n+31612345679\n", encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text('[compliance]\nopt_out_footer = "Reply STOP to opt out"\n', encoding="utf-8")
    message = "m" * 150  # one segment alone, two with the footer's line
    env = {"CAMPAIGNER_CONFIG": str(config)}

    def preview(*extra: str) -> dict[str, object]:
        result = _run(str(recipients), "--message", message, "--format", "json", *extra, env=env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    account = preview()
    assert (account["footer"], account["segments_total"]) == ("Reply STOP to opt out", 4)
    none = preview("--no-footer")
    assert (none["footer"], none["segments_total"]) == ("", 2)
    assert none["cost_total"] < account["cost_total"]  # type: ignore[operator]
    own = preview("--footer", "STOP=stop")
    assert (own["footer"], own["segments_total"]) == ("STOP=stop", 2)  # 160 characters: one segment
    assert own["windows"] == []  # the country table is off unless configured

    table = _run(str(recipients), "--message", message, env=env)
    assert "Reply STOP to opt out" in table.stdout and "footer" in table.stdout
    both = _run(str(recipients), "--message", message, "--footer", "x", "--no-footer", env=env)
    assert both.returncode == 2 and "--footer and --no-footer" in both.stderr
    assert "Traceback" not in both.stderr
