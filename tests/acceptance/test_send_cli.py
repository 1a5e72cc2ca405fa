"""`campaigner send`, `run`, `retry`, `pause` and `cancel` as a user runs them: subprocesses (the
commands that never reach the provider run in-process) against the real sandbox (served by this
test's event loop) and a database of the test's own."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import asyncpg

from campaigner.sandbox import RunningSandbox
from campaigner.store.store import Store
from tests.cli_helpers import run_in_process
from tests.dispatch_helpers import wait_for
from tests.fixtures.sandbox import MakeSandbox

ROOT = Path(__file__).resolve().parents[2]
KEY = "17|sandbox-full-access-key"


def write_config(tmp_path: Path, sandbox: RunningSandbox, rpm: int, mps: int) -> Path:
    config = tmp_path / "campaigner.toml"
    config.write_text(
        f"""
[provider]
type = "cliqtel"
base_url = "{sandbox.cliqtel_url}"
api_key_env = "CLIQTEL_API_KEY"
sender = "+3197010203040"
requests_per_minute = {rpm}
messages_per_second = {mps}
[dispatcher]
poll_interval = 0.2
""",
        encoding="utf-8",
    )
    return config


def write_recipients(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "customers.csv"
    rows = ["name,phone"] + [f"P{i},06 {40_000_000 + i:08d}" for i in range(count)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


async def start(
    config: Path, url: str, *args: str, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "CAMPAIGNER_DATABASE_URL": url,
        "CAMPAIGNER_CONFIG": str(config),
        "CLIQTEL_API_KEY": KEY,
        **(env or {}),
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "campaigner", *args, cwd=ROOT, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


# Commands that never reach the provider run in this process (tests/cli_helpers.py: no interpreter
# start-up). The ones that send (send, run, retry, sync, cancel) stay subprocesses: their requests
# must not share this process's interpreter with the sandbox that counts their arrival times.
IN_PROCESS = {"create", "status", "report", "export", "pause", "suppress", "campaigns", "preview"}


async def campaigner(config: Path, url: str, *args: str, expect: int = 0) -> str:
    if args[0] in IN_PROCESS:
        env = {
            **os.environ,
            "CAMPAIGNER_DATABASE_URL": url,
            "CAMPAIGNER_CONFIG": str(config),
            "CLIQTEL_API_KEY": KEY,
        }
        done = await asyncio.to_thread(run_in_process, list(args), env=env, cwd=ROOT)
        assert done.returncode == expect, (args, done.returncode, done.stdout, done.stderr)
        return done.stdout + done.stderr
    proc = await start(config, url, *args)
    out, err = await proc.communicate()
    assert proc.returncode == expect, (args, proc.returncode, out.decode(), err.decode())
    return out.decode() + err.decode()


async def counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT state, count(*) FROM jobs GROUP BY state")
    finally:
        await conn.close()
    return {r[0]: r[1] for r in rows}


async def test_send_yes_completes_and_exits_zero(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox(requests_per_minute=600, messages_per_second=100)
    config = write_config(tmp_path, sandbox, rpm=600, mps=100)
    output = await campaigner(
        config,
        database_url,
        "send",
        str(write_recipients(tmp_path, 20)),
        "-m",
        "Hi {name}",
        "--region",
        "NL",
        "--yes",
    )
    assert "campaign 1: completed" in output
    assert await counts(database_url) == {"submitted": 20}
    assert sandbox.state.snapshot()["accepted_messages"] == 20
    # Nothing failed, so nothing to retry: said, and not an error.
    output = await campaigner(config, database_url, "retry", "1")
    assert "0 jobs put back to pending" in output
    status = await campaigner(config, database_url, "status", "1")
    assert "completed" in status and "left" not in status


async def test_pause_and_cancel_from_a_second_process(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox(requests_per_minute=300, messages_per_second=5)
    config = write_config(tmp_path, sandbox, rpm=300, mps=5)
    sender = await start(
        config,
        database_url,
        "send",
        str(write_recipients(tmp_path, 60)),
        "-m",
        "Hi {name}",
        "--region",
        "NL",
        "-y",
    )

    async def some_sent() -> bool:
        return (await counts(database_url)).get("submitted", 0) >= 3

    await wait_for(some_sent, 30, "the first sends")
    await campaigner(config, database_url, "pause", "1")
    _out, err = await asyncio.wait_for(sender.communicate(), 5)
    assert sender.returncode == 3, err.decode()
    assert "paused" in err.decode()
    sent = (await counts(database_url)).get("submitted", 0)
    assert 3 <= sent < 60

    output = await campaigner(config, database_url, "cancel", "1")
    assert str(60 - sent) in output
    assert await counts(database_url) == {"submitted": sent, "cancelled": 60 - sent}
    assert sandbox.state.snapshot()["accepted_messages"] == sent


async def test_funds_pause_then_retry_after_top_up(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox(requests_per_minute=600, messages_per_second=100, balance=0.04)
    config = write_config(tmp_path, sandbox, rpm=600, mps=100)
    recipients = str(write_recipients(tmp_path, 10))
    output = await campaigner(
        config,
        database_url,
        "send",
        recipients,
        "-m",
        "Hi",
        "--region",
        "NL",
        "-y",
        "--allow-partial",
        expect=3,
    )
    assert "paused" in output and "funds" in output
    assert (await counts(database_url)).get("submitted") == 5
    sandbox.state.configure({"balance": 1.0})
    output = await campaigner(config, database_url, "run", "1")
    assert "completed" in output
    assert await counts(database_url) == {"submitted": 10}
    assert sandbox.state.snapshot()["duplicates"] == {}


async def test_balance_below_the_estimate_refuses_to_start(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox(balance=0.01, serve_balance=True)
    config = write_config(tmp_path, sandbox, rpm=60, mps=10)
    output = await campaigner(
        config, database_url, "send", str(write_recipients(tmp_path, 10)), "-m", "Hi", "--region", "NL", "-y",
        expect=2,
    )  # fmt: skip
    assert "balance" in output and "--allow-partial" in output
    assert "Traceback" not in output
    assert sandbox.state.snapshot()["accepted_messages"] == 0


async def test_wrong_sender_is_one_clear_error_before_anything_is_sent(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox()
    config = write_config(tmp_path, sandbox, rpm=60, mps=10)
    config.write_text(config.read_text().replace("+3197010203040", "+3197000000000"))
    output = await campaigner(
        config, database_url, "send", str(write_recipients(tmp_path, 3)), "-m", "Hi", "--region", "NL", "-y",
        expect=2,
    )  # fmt: skip
    assert "+3197000000000" in output and "Traceback" not in output
    assert sandbox.state.snapshot()["accepted_messages"] == 0


async def test_numbers_suppressed_after_create_are_skipped_not_sent(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox(requests_per_minute=600, messages_per_second=100)
    config = write_config(tmp_path, sandbox, rpm=600, mps=100)
    recipients = str(write_recipients(tmp_path, 6))
    await campaigner(config, database_url, "create", recipients, "-m", "Hi", "--region", "NL")
    await campaigner(config, database_url, "suppress", "add", "06 40000001", "+31640000004", "--region", "NL")
    output = await campaigner(config, database_url, "run", "1")
    assert "completed" in output
    assert await counts(database_url) == {"submitted": 4, "skipped": 2}
    sent = sandbox.state.snapshot(per_recipient=True)["per_recipient"]
    assert sorted(sent) == ["+31640000000", "+31640000002", "+31640000003", "+31640000005"]


async def test_send_refusals_before_the_first_message_change_nothing_or_say_what_is_kept(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox(balance=0.01, serve_balance=True)
    config = write_config(tmp_path, sandbox, rpm=60, mps=10)
    recipients = str(write_recipients(tmp_path, 3))
    send = ("send", recipients, "-m", "Hi", "--region", "NL")
    # No terminal and no --yes: there is no one to ask, so nothing is made.
    output = await campaigner(config, database_url, *send, expect=2)
    assert "--yes" in output and "Traceback" not in output
    # No API key: found before the load.
    without_key = {k: v for k, v in os.environ.items() if k != "CLIQTEL_API_KEY"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "campaigner", *send, "-y", cwd=ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=without_key | {"CAMPAIGNER_DATABASE_URL": database_url, "CAMPAIGNER_CONFIG": str(config)},
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 2 and b"CLIQTEL_API_KEY is not set" in err
    # Every row set aside: the preview says why, and no campaign is made.
    bad = tmp_path / "bad.csv"
    bad.write_text("name,phone\nA,12\nB,not a number\n", encoding="utf-8")
    output = await campaigner(config, database_url, "send", str(bad), "-m", "Hi", "-y", expect=2)
    assert "nothing to send: all 2 rows were set aside (invalid 2); no campaign was created" in output
    assert "First rejected rows" in output
    assert await counts(database_url) == {}
    # The balance check refuses after the load: the error says the draft is kept, and how to run it.
    output = await campaigner(config, database_url, *send, "-y", expect=2)
    assert "balance" in output and re.search(
        r"campaign (\d+) is kept as a draft \(`campaigner run \1`\)", output
    )
    assert await counts(database_url) == {"pending": 3}
    assert sandbox.state.snapshot()["accepted_messages"] == 0


async def test_progress_shows_the_cost_of_what_was_sent_not_an_average(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    # Three 1-segment messages and one of 5 segments (estimate 0.064 EUR, 0.016 a message on
    # average); a balance of 0.02 pays for two or three 1-segment ones, then the campaign pauses.
    sandbox = await make_sandbox(requests_per_minute=600, messages_per_second=100, balance=0.02)
    config = write_config(tmp_path, sandbox, rpm=600, mps=100)
    path = tmp_path / "mixed.csv"
    rows = ["name,phone", "A,0640000001", "B,0640000002", f"{'D' * 700},0640000003", "C,0640000004"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    send = ("send", str(path), "-m", "Hi {name}", "--region", "NL", "-y", "--allow-partial")
    output = await campaigner(config, database_url, *send, expect=3)
    sent = (await counts(database_url)).get("submitted", 0)
    assert sent in (2, 3), output
    last = [line for line in output.splitlines() if f"sent {sent}  failed" in line][-1]
    assert f"cost {0.008 * sent:.2f} EUR" in last, last  # an average would say {0.016 * sent:.2f}


async def test_clickatell_batches_of_mixed_sizes_stay_within_the_message_window(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    # One text to many numbers per request, grouped by body: groups of 15, 3, 20 and 1 make requests
    # of unequal sizes, which the shared schedule must still keep to 20 messages in any second.
    sandbox = await make_sandbox(requests_per_minute=600, messages_per_second=20)
    config = tmp_path / "clickatell.toml"
    config.write_text(
        f"""
[provider]
type = "clickatell"
base_url = "{sandbox.clickatell_url}"
api_key_env = "CLIQTEL_API_KEY"
sender = "+3197010203040"
requests_per_minute = 600
messages_per_second = 20
recipients_per_request = 20
window_margin = 0.02
[dispatcher]
poll_interval = 0.2
""",
        encoding="utf-8",
    )
    cities = ["Utrecht"] * 15 + ["Delft"] * 3 + ["Breda"] * 20 + ["Ede"] + ["Gouda"] * 21
    rows = ["name,phone,city"] + [f"P{i},06 {40_000_000 + i:08d},{city}" for i, city in enumerate(cities)]
    path = tmp_path / "grouped.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    output = await campaigner(
        config, database_url, "send", str(path), "-m", "Hi from {city}", "--region", "NL", "-y"
    )
    assert "completed" in output
    stats = sandbox.state.snapshot(per_recipient=True)
    assert stats["accepted_messages"] == 60 and stats["duplicates"] == {}
    assert stats["rate_limits"]["messages"]["violations"] == 0, stats["rate_limits"]


async def test_run_says_why_it_waits_when_the_shared_schedule_is_ahead(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox(requests_per_minute=600, messages_per_second=100)
    config = write_config(tmp_path, sandbox, rpm=600, mps=100)
    await campaigner(
        config, database_url, "create", str(write_recipients(tmp_path, 3)), "-m", "Hi", "--region", "NL"
    )
    store = await Store.open_url(database_url, migrate=False)
    try:
        await store.push_schedule("default:requests", 0.0)  # the account's schedule exists
    finally:
        await store.close()
    # Hold the schedule's row, so the run's first reservation waits for us however long the
    # process takes to start; then book the next 3 s, as a run killed a moment ago would have.
    holder = await asyncpg.connect(database_url)
    watcher = await asyncpg.connect(database_url)  # pg_stat_activity is a snapshot inside a transaction
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM rate_schedule WHERE key = 'default:requests' FOR UPDATE")
        run = asyncio.create_task(campaigner(config, database_url, "run", "1"))
        await wait_for(lambda: _waits_on_a_lock(watcher), 60, "the run to wait for the schedule's row")
        await holder.execute(
            "UPDATE rate_schedule SET tat = clock_timestamp() + interval '3 seconds'"
            " WHERE key = 'default:requests'"
        )
        await tx.commit()
        output = await run
    finally:
        await holder.close()
        await watcher.close()
    assert "waiting for the account's rate schedule" in output
    assert "completed" in output and sandbox.state.snapshot()["accepted_messages"] == 3


async def _waits_on_a_lock(conn: asyncpg.Connection) -> bool:
    waiting = await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    return bool(waiting)


async def test_cancel_during_a_run_reports_what_was_sent_and_the_run_says_so(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox(requests_per_minute=600, request_window=6.0, messages_per_second=5)
    config = write_config(tmp_path, sandbox, rpm=600, mps=5)
    await campaigner(
        config, database_url, "create", str(write_recipients(tmp_path, 100)), "-m", "Hi", "--region", "NL"
    )
    run = asyncio.create_task(campaigner(config, database_url, "run", "1", expect=3))

    async def some_sent() -> bool:
        return (await counts(database_url)).get("submitted", 0) >= 3

    await wait_for(some_sent, 60, "the first sends")
    output = await campaigner(config, database_url, "cancel", "1")
    assert "pending jobs cancelled" in output and "already with the provider" in output
    ran = await asyncio.wait_for(run, 30)
    assert "was cancelled while it ran" in ran
    final = await counts(database_url)
    assert "sending" not in final
    assert final.get("submitted", 0) == sandbox.state.snapshot()["accepted_messages"]


async def test_sync_settles_receipts_that_never_came(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox(requests_per_minute=600, request_window=6.0, messages_per_second=100)
    config = write_config(tmp_path, sandbox, rpm=600, mps=100)  # no public_url: no receipts pushed
    sent = await campaigner(
        config, database_url, "send", str(write_recipients(tmp_path, 12)), "-m", "Hi", "--region", "NL", "-y"
    )
    assert "no daemon.public_url: no receipt is pushed" in sent  # and the user is told so
    assert await counts(database_url) == {"submitted": 12}

    async def delivered_at_the_provider() -> bool:
        return all(m.status in ("delivered", "failed") for m in sandbox.state.store.messages)

    await wait_for(delivered_at_the_provider, 30, "the sandbox to deliver")
    output = await campaigner(config, database_url, "sync", "1")
    assert "12 messages looked up" in output and "delivered 12" in output
    assert await counts(database_url) == {"delivered": 12}
    again = await campaigner(config, database_url, "sync", "1")
    assert "0 messages looked up" in again
    # What Cliqtel reported on accepting each message (segments, cost) is kept beside the estimate.
    plain = json.loads(await campaigner(config, database_url, "status", "1", "--format", "json"))
    assert plain["reported"] is None  # plain status reads only the counters
    status = json.loads(
        await campaigner(config, database_url, "status", "1", "--format", "json", "--reported")
    )
    assert status["reported"] == {
        "messages": 12,
        "cost": 0.096,
        "estimated_cost": 0.096,
        "more_segments_than_estimated": 0,
    }
    missing = await campaigner(config, database_url, "sync", "99", expect=2)
    assert "99" in missing and "Traceback" not in missing


async def test_a_key_without_billing_scope_sends_with_a_warning(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox(
        requests_per_minute=600, request_window=6.0, messages_per_second=100, serve_balance=True
    )
    config = write_config(tmp_path, sandbox, rpm=600, mps=100)
    env_key = {"CLIQTEL_API_KEY": sandbox.settings.send_key}  # sms:read and sms:write only
    proc = await start(config, database_url, "send", str(write_recipients(tmp_path, 5)), "-m", "Hi", "-y",
                       "--region", "NL", env=env_key)  # fmt: skip
    out, err = await proc.communicate()
    output = out.decode() + err.decode()
    assert proc.returncode == 0, output
    assert "balance is unknown" in output and "completed" in output
    assert sandbox.state.snapshot()["accepted_messages"] == 5
