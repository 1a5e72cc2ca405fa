"""`campaigner config init|check|systemd` as a new user runs them: no database, no provider."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import run_in_process

ROOT = Path(__file__).resolve().parents[2]


def campaigner(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None, subprocess_: bool = False
) -> subprocess.CompletedProcess[str]:
    """`campaigner *args` in this process (tests/cli_helpers.py), or a real subprocess."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGNER_")}
    if not subprocess_:
        result = run_in_process(list(args), env=clean | (env or {}), cwd=cwd, stdin=stdin.encode())
        assert "Traceback" not in result.stderr, result.stderr
        return result
    result = subprocess.run(
        [sys.executable, "-m", "campaigner", *args], cwd=cwd, env=clean | (env or {}),
        input=stdin, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.parametrize("provider", ["cliqtel", "clickatell"])
def test_init_writes_a_starter_that_checks_and_refuses_to_overwrite(provider: str, tmp_path: Path) -> None:
    made = campaigner("config", "init", "--provider", provider, cwd=tmp_path, subprocess_=True)
    assert made.returncode == 0, made.stderr
    written = (tmp_path / "campaigner.toml").read_text()
    assert f'type = "{provider}"' in written and written.startswith("# campaigner configuration for")
    assert "campaigner config check campaigner.toml" in made.stdout

    checked = campaigner("config", "check", "campaigner.toml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    ok = f"campaigner.toml: ok ({provider} account 'default', the embedded PostgreSQL)"
    assert checked.stdout.strip() == ok
    assert "API_KEY is not set here (named by provider.api_key_env)" in checked.stderr

    (tmp_path / "campaigner.toml").write_text("# mine\n")
    again = campaigner("config", "init", "--provider", provider, cwd=tmp_path)
    assert again.returncode == 2
    assert "campaigner.toml: already exists; nothing written (--force overwrites it)" in again.stderr
    assert (tmp_path / "campaigner.toml").read_text() == "# mine\n"
    forced = campaigner("config", "init", "--provider", provider, "--force", cwd=tmp_path)
    assert forced.returncode == 0 and (tmp_path / "campaigner.toml").read_text() == written


def test_check_reports_every_mistake_at_once_with_the_variables_too(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text(
        "[provider]\nrequests_per_minute = -1\nsendr = 'x'\n[dispatcher]\nbatch_size = 0\n"
    )
    result = campaigner(
        "config", "check", "bad.toml", cwd=tmp_path, env={"CAMPAIGNER_DISPATCHER__CONCURRENCY": "many"}
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines == [
        "bad.toml: provider.requests_per_minute: Input should be greater than 0",
        "bad.toml: provider.sendr: unknown setting",
        "bad.toml: dispatcher.batch_size: Input should be greater than or equal to 1",
        "bad.toml: dispatcher.concurrency (from CAMPAIGNER_DISPATCHER__CONCURRENCY): Input should be a "
        "valid integer, unable to parse string as an integer",
        "error: 4 mistakes; nothing was changed",
    ]


def test_check_reads_standard_input_and_the_config_option(tmp_path: Path) -> None:
    piped = campaigner("config", "check", "-", cwd=tmp_path, stdin="[provider]\nsender = '+3197010203040'\n")
    assert piped.returncode == 0 and piped.stdout.startswith("<stdin>: ok (cliqtel"), piped.stderr
    (tmp_path / "c.toml").write_text("[dispatcher]\nbatch_size = 'x'\n")
    named = campaigner("--config", "c.toml", "config", "check", cwd=tmp_path)
    assert named.returncode == 2 and "c.toml: dispatcher.batch_size: " in named.stderr
    after = campaigner("config", "check", "--config", "c.toml", cwd=tmp_path)  # after the subcommand
    assert after.returncode == 2 and after.stderr == named.stderr
    unknown = campaigner("config", "check", "c.toml", cwd=tmp_path, env={"CAMPAIGNER_PROVIDR__TYPE": "x"})
    assert unknown.returncode == 2
    assert "environment: CAMPAIGNER_PROVIDR__TYPE: the config has no setting 'providr'" in unknown.stderr


def test_systemd_prints_a_notify_unit_running_this_installation(tmp_path: Path) -> None:
    result = campaigner("config", "systemd", "--exec", "/srv/cg/bin/campaigner", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string(result.stdout)
    service = unit["Service"]
    assert service["Type"] == "notify"
    assert service["ExecStart"] == "/srv/cg/bin/campaigner daemon"
    assert service["StateDirectory"] == "campaigner"
    assert service["KillMode"] == "mixed"
    assert float(service["TimeoutStopSec"]) > 30  # longer than daemon.grace_period's default
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_a_dash_reads_standard_input(tmp_path: Path) -> None:
    rows = "name,phone\nAnn,+31612345678\nBob,+31612345679\n"
    piped = campaigner("preview", "-", "-m", "Hi {name}", "--format", "json", cwd=tmp_path, stdin=rows)
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["sendable"] == 2
    (tmp_path / "r.csv").write_text(rows)
    message = campaigner("preview", "r.csv", "--message-file", "-", "--format", "json", cwd=tmp_path,
                         stdin="Hello {name}\n")  # fmt: skip
    assert message.returncode == 0 and json.loads(message.stdout)["segments_total"] == 2
    both = campaigner("preview", "-", "--message-file", "-", cwd=tmp_path, stdin=rows)
    assert both.returncode == 2 and "cannot both be -" in both.stderr


def test_check_names_every_account_and_the_secrets_each_lacks(tmp_path: Path) -> None:
    (tmp_path / "campaigner.toml").write_text(
        '[provider]\ntype = "cliqtel"\napi_key_env = "HOME_KEY"\n'
        '[accounts.acme]\ntype = "clickatell"\napi_key_env = "ACME_KEY"\n',
        encoding="utf-8",
    )
    checked = campaigner("config", "check", "campaigner.toml", cwd=tmp_path, env={"HOME_KEY": "set"})
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == (
        "campaigner.toml: ok (cliqtel account 'default', clickatell account 'acme', the embedded PostgreSQL)"
    )
    assert "ACME_KEY is not set here (named by accounts.acme.api_key_env)" in checked.stderr
    assert "HOME_KEY" not in checked.stderr
