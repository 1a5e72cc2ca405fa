"""A Clickatell account as a user drives it, through the CLI (subprocesses) against the sandbox:
the preview prices the campaign in credits from coverage, the balance check compares credits with
credits, a message longer than the account's parts is set aside, and cancel stops what is queued."""

from __future__ import annotations

import json
from pathlib import Path

from campaigner.sandbox import RunningSandbox
from tests.acceptance.test_send_cli import campaigner, counts, start, write_recipients
from tests.dispatch_helpers import wait_for
from tests.fixtures.sandbox import MakeSandbox

KEY = "17|sandbox-full-access-key"


def clickatell_config(tmp_path: Path, sandbox: RunningSandbox, **provider: object) -> Path:
    settings: dict[str, object] = {
        "type": "clickatell",
        "base_url": sandbox.clickatell_url,
        "api_key_env": "CLIQTEL_API_KEY",
        "sender": "+3197010203040",
        "requests_per_minute": 600,
        "messages_per_second": 100,
        **provider,
    }
    lines = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    config = tmp_path / "clickatell.toml"
    config.write_text(f"[provider]\n{lines}\n[dispatcher]\npoll_interval = 0.2\n", encoding="utf-8")
    return config


async def preview_json(config: Path, url: str, recipients: Path, message: str) -> dict[str, object]:
    out = await campaigner(
        config, url, "preview", str(recipients), "-m", message, "--region", "NL", "--format", "json"
    )
    preview: dict[str, object] = json.loads(out[: out.rindex("}") + 1])  # stderr follows stdout
    return preview


async def test_the_preview_prices_credits_from_coverage_and_sets_long_texts_aside(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    # 31... numbers cost 1.5 credits a part here; the sandbox's coverage says so.
    sandbox = await make_sandbox(clickatell_credits_per_part={"31": 1.5})
    config = clickatell_config(tmp_path, sandbox, max_message_parts=2)
    recipients = write_recipients(tmp_path, 10)
    preview = await preview_json(config, database_url, recipients, "Hi {name}")
    assert preview["credits"] == {
        "currency": "credits",
        "at_least": 15.0,
        "per_country": {"NL": 15.0},
        "unpriced": {},
    }
    table = await campaigner(
        config, database_url, "preview", str(recipients), "-m", "Hi {name}", "--region", "NL"
    )
    assert "credits" in table and "15.00" in table
    # Three parts where the account sends two: set aside as too long, never sent.
    preview = await preview_json(config, database_url, recipients, "Hi {name} " + "x" * 320)
    assert (preview["sendable"], preview["too_long"]) == (0, 10)


async def test_the_balance_check_compares_credits_with_credits(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    # 10 one-part messages at 0.8 credits need 8 credits; the wallet holds 5 (and 100 EUR, which
    # must not count: that is another wallet).
    sandbox = await make_sandbox(clickatell_credits=5.0)
    config = clickatell_config(tmp_path, sandbox)
    out = await campaigner(
        config,
        database_url,
        "send",
        str(write_recipients(tmp_path, 10)),
        "-m",
        "Hi {name}",
        "--region",
        "NL",
        "--yes",
        expect=2,
    )
    assert "needs at least 8.00 credits" in out and "balance is 5.00 credits" in out
    assert sandbox.state.snapshot()["accepted_messages"] == 0


async def test_cancel_stops_what_is_still_queued_at_clickatell(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    # Messages stay queued at the provider (no progress for an hour); the send is slow enough
    # to cancel midway.
    sandbox = await make_sandbox(sent_delay=3600.0, messages_per_second=5)
    config = clickatell_config(tmp_path, sandbox, messages_per_second=5, requests_per_minute=300)
    sender = await start(
        config,
        database_url,
        "send",
        str(write_recipients(tmp_path, 40)),
        "-m",
        "Hi {name}",
        "--region",
        "NL",
        "-y",
    )

    async def some_sent() -> bool:
        return (await counts(database_url)).get("submitted", 0) >= 3

    try:
        await wait_for(some_sent, 30, "the first sends")
    except AssertionError:
        if sender.returncode is None:
            sender.kill()
        _, err = await sender.communicate()
        raise AssertionError(err.decode()) from None
    out = await campaigner(config, database_url, "cancel", "1")
    await sender.communicate()
    states = await counts(database_url)
    stopped = states.get("undelivered", 0)
    assert stopped >= 3 and f"{stopped:,} still queued at the provider stopped" in out, (out, states)
    assert states.get("submitted", 0) == 0 and states.get("pending", 0) == 0
    assert sum(1 for m in sandbox.state.store.messages if m.status == "cancelled") == stopped
