"""Several provider accounts in one config, as a user drives them: `--account NAME` makes a
campaign of that account and sends it through that account's provider and limits; a campaign is
run again through its own account whatever the default; an unknown account is one clear error."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from campaigner.sandbox import RunningSandbox
from campaigner.sandbox.settings import SandboxNumber
from tests.acceptance.test_send_cli import campaigner, write_recipients
from tests.fixtures.sandbox import MakeSandbox


def accounts_config(tmp_path: Path, home: RunningSandbox, acme: RunningSandbox) -> Path:
    path = tmp_path / "campaigner.toml"
    path.write_text(
        f"""
[provider]
type = "cliqtel"
base_url = "{home.cliqtel_url}"
api_key_env = "CLIQTEL_API_KEY"
sender = "+3197010203040"
requests_per_minute = 600
messages_per_second = 100

[accounts.acme]
type = "cliqtel"
base_url = "{acme.cliqtel_url}"
api_key_env = "CLIQTEL_API_KEY"
sender = "+3197010203041"
requests_per_minute = 600
messages_per_second = 50

[dispatcher]
poll_interval = 0.2
""",
        encoding="utf-8",
    )
    return path


async def campaign_rows(url: str) -> list[tuple[int, str, str, str]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT id, provider_account, sender, state FROM campaigns ORDER BY id")
    finally:
        await conn.close()
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_account_option_sends_through_that_account_and_its_schedule(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    home = await make_sandbox(requests_per_minute=600, messages_per_second=100)
    acme = await make_sandbox(
        requests_per_minute=600, messages_per_second=100, numbers=[SandboxNumber(1, "+3197010203041", "NL")]
    )
    config = accounts_config(tmp_path, home, acme)
    csv = str(write_recipients(tmp_path, 12))

    # After the subcommand, as people type it, and before it: the same.
    out = await campaigner(config, database_url, "send", csv, "-m", "Hi {name}", "--region", "NL",
                           "--yes", "--account", "acme")  # fmt: skip
    assert "campaign 1: completed" in out, out
    out = await campaigner(config, database_url, "send", csv, "-m", "Hi {name}", "--region", "NL", "--yes")
    assert "campaign 2: completed" in out, out

    assert await campaign_rows(database_url) == [
        (1, "acme", "+3197010203041", "completed"),
        (2, "default", "+3197010203040", "completed"),
    ]
    assert acme.state.snapshot()["accepted_messages"] == 12
    assert home.state.snapshot()["accepted_messages"] == 12
    conn = await asyncpg.connect(database_url)
    try:
        keys = sorted(r[0] for r in await conn.fetch("SELECT key FROM rate_schedule"))
    finally:
        await conn.close()
    assert keys == ["acme:messages", "acme:requests", "default:messages", "default:requests"]

    # `retry` of acme's campaign goes through acme, without --account: the campaign names it.
    out = await campaigner(config, database_url, "retry", "1")
    assert "0 jobs put back to pending" in out, out


async def test_an_unknown_account_is_one_clear_error_and_changes_nothing(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    home = await make_sandbox()
    config = accounts_config(tmp_path, home, home)
    csv = str(write_recipients(tmp_path, 3))
    out = await campaigner(config, database_url, "send", csv, "-m", "Hi", "--region", "NL", "--yes",
                           "--account", "nope", expect=2)  # fmt: skip
    assert "no provider account 'nope' (accounts: default, acme)" in out, out
    assert "Traceback" not in out
    assert await campaign_rows(database_url) == []
    assert home.state.snapshot()["requests"] == 0
