"""`campaigner segments` run as a user runs it: exit codes, JSON on stdout (in this process through
the console script's main(); the invalid-UTF-8 test through a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.cli_helpers import run_in_process

CAMPAIGNER = str(Path(sys.executable).with_name("campaigner"))


def run(*args: str, stdin: bytes = b"", subprocess_: bool = False) -> subprocess.CompletedProcess[str]:
    """`campaigner segments *args`: in this process (tests/cli_helpers.py), or a real subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGNER_")}
    env["PYTHONIOENCODING"] = "utf-8"
    if not subprocess_:
        return run_in_process(["segments", *args], env=env, stdin=stdin)
    process = subprocess.run(
        [CAMPAIGNER, "segments", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    return subprocess.CompletedProcess(
        process.args, process.returncode, process.stdout.decode("utf-8"), process.stderr.decode("utf-8")
    )


def run_json(*args: str, stdin: bytes = b"") -> dict[str, Any]:
    result = run("--format", "json", *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_json_for_a_gsm_message_argument() -> None:
    report = run_json("a" * 161)
    assert report["encoding"] == "GSM-7"
    assert report["segments"] == 2
    assert report["units"] == 161
    assert report["parts"] == [153, 8]
    assert report["ucs2_characters"] == []


def test_json_names_the_characters_that_force_ucs2() -> None:
    report = run_json("Hi 😀 ça va")
    assert report["encoding"] == "UCS-2"
    assert report["units"] == 11  # 10 characters, the emoji is 2 units
    assert [c["codepoint"] for c in report["ucs2_characters"]] == ["U+1F600", "U+00E7"]
    assert report["ucs2_characters"][1]["name"] == "LATIN SMALL LETTER C WITH CEDILLA"


def test_message_from_stdin_without_its_final_newline() -> None:
    report = run_json(stdin="€ price\n".encode())
    assert (report["encoding"], report["units"], report["characters"]) == ("GSM-7", 8, 7)
    crlf = run_json(stdin=b"line one\r\nline two\r\n")
    assert crlf["units"] == len("line one\r\nline two")


def test_smart_encoding_reports_the_original_counts_and_the_replacements() -> None:
    text = "It’s “great” — " + "x" * 60
    report = run_json("--smart-encoding", text)
    assert report["encoding"] == "GSM-7"
    assert report["segments"] == 1
    smart = report["smart_encoding"]
    assert smart["text"] == 'It\'s "great" - ' + "x" * 60
    assert smart["original"]["encoding"] == "UCS-2"
    assert smart["original"]["segments"] == 2
    assert smart["saved_segments"] == 1
    replaced = {(r["codepoint"], r["replacement"], r["count"]) for r in smart["replacements"]}
    assert replaced == {("U+2019", "'", 1), ("U+201C", '"', 1), ("U+201D", '"', 1), ("U+2014", "-", 1)}


def test_table_output_shows_encoding_parts_and_culprits() -> None:
    result = run("Café ç " + "x" * 70)
    assert result.returncode == 0, result.stderr
    assert "UCS-2" in result.stdout
    assert "67 + 10" in result.stdout
    assert "U+00E7" in result.stdout
    assert "--smart-encoding" not in result.stdout  # nothing it could replace here


def test_table_output_suggests_smart_encoding_when_it_helps() -> None:
    result = run("It’s " + "x" * 80)
    assert result.returncode == 0, result.stderr
    assert "--smart-encoding would save 1 segment" in result.stdout


def test_invalid_utf8_on_stdin_is_one_line_and_exit_2() -> None:
    result = run(stdin=b"ok\n\xff\xfe", subprocess_=True)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: stdin: line 2: the message is not valid UTF-8"
    assert "Traceback" not in result.stderr


def test_unknown_format_is_a_usage_error() -> None:
    result = run("--format", "xml", "hi")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
