"""`campaigner numbers`, run as a user runs it (a subprocess), against the sandbox over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from campaigner.sandbox import RunningSandbox
from tests.fixtures.sandbox import MakeSandbox

SENDER = "+3197010203040"


async def run_cli(config: Path, *args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "campaigner",
        "--config",
        str(config),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


def write_config(tmp_path: Path, provider: str) -> Path:
    path = tmp_path / "campaigner.toml"
    path.write_text(f"[provider]\n{provider}\n", encoding="utf-8")
    return path


@pytest.fixture
async def sb(make_sandbox: MakeSandbox) -> RunningSandbox:
    return await make_sandbox(
        numbers=[
            {"id": 1, "number": SENDER, "country_code": "NL", "number_type": "mobile", "sms_enabled": True},
            {
                "id": 5,
                "number": "+4915112345678",
                "country_code": "DE",
                "number_type": "mobile",
                "sms_enabled": True,
            },
            {
                "id": 2,
                "number": "+31201234567",
                "country_code": "NL",
                "number_type": "local",
                "sms_enabled": False,
            },
        ]
    )


async def test_cliqtel_numbers_as_json_and_table(sb: RunningSandbox, tmp_path: Path) -> None:
    config = write_config(tmp_path, f'base_url = "{sb.cliqtel_url}"\nsender = "{SENDER}"')
    env = {"CLIQTEL_API_KEY": sb.settings.read_key}  # listing needs only a read-only key
    code, out, err = await run_cli(config, "numbers", "--format", "json", env=env)
    assert code == 0, err
    assert [(n["id"], n["number"], n["country"]) for n in json.loads(out)] == [
        ("1", SENDER, "NL"),
        ("5", "+4915112345678", "DE"),
    ]
    code, out, err = await run_cli(config, "numbers", env={**env, "COLUMNS": "120"})
    assert code == 0, err
    assert f"{SENDER} (sender)" in out and "+4915112345678" in out and "+31201234567" not in out


async def test_refused_key_is_one_line_without_the_key(sb: RunningSandbox, tmp_path: Path) -> None:
    config = write_config(tmp_path, f'base_url = "{sb.cliqtel_url}"')
    code, out, err = await run_cli(config, "numbers", env={"CLIQTEL_API_KEY": "77|wrong-secret-key"})
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "HTTP 401" in err and err.count("\n") == 1
    assert "wrong-secret-key" not in err and "Traceback" not in err


async def test_missing_key_names_the_variable(sb: RunningSandbox, tmp_path: Path) -> None:
    config = write_config(tmp_path, f'base_url = "{sb.cliqtel_url}"\napi_key_env = "NO_SUCH_KEY_VAR"')
    code, _, err = await run_cli(config, "numbers", env={})
    assert code == 2 and "NO_SUCH_KEY_VAR" in err


async def test_clickatell_cannot_list_numbers(sb: RunningSandbox, tmp_path: Path) -> None:
    config = write_config(tmp_path, f'type = "clickatell"\nbase_url = "{sb.clickatell_url}"')
    code, _, err = await run_cli(config, "numbers", env={"CLICKATELL_API_KEY": sb.settings.full_key})
    assert code == 2 and "cannot list" in err


async def test_clicksend_numbers(sb: RunningSandbox, tmp_path: Path) -> None:
    config = write_config(tmp_path, f'type = "clicksend"\nbase_url = "{sb.clicksend_url}"')
    env = {"CLICKSEND_USERNAME": sb.settings.clicksend_username, "CLIQTEL_API_KEY": sb.settings.clicksend_key}
    code, out, err = await run_cli(config, "numbers", "--format", "json", env=env)
    assert code == 0, err
    assert [n["number"] for n in json.loads(out)] == [SENDER, "+4915112345678"]
    code, out, err = await run_cli(config, "numbers", "--format", "json", "--all", env=env)
    assert [(n["number"], n["sms_enabled"]) for n in json.loads(out)][-1] == ("+31201234567", False)
