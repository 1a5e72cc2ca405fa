"""`campaigner send --valid-for 30s` as a user runs it: what is not sent by the deadline expires.

The test drives time through the deadline instead of waiting 30 s for it: once the first messages
are out, the campaign's valid_until is moved to a moment from now, as if the 30 s had passed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from tests.acceptance.test_send_cli import campaigner, counts, start, write_config, write_recipients
from tests.dispatch_helpers import wait_for
from tests.fixtures.sandbox import MakeSandbox


async def test_send_valid_for_30s_expires_the_rest_and_sends_none_after_the_deadline(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    # 5 msg/s: 300 messages take a minute, twice the validity.
    sandbox = await make_sandbox(requests_per_minute=300, messages_per_second=5)
    config = write_config(tmp_path, sandbox, rpm=300, mps=5)
    sender = await start(
        config, database_url, "send", str(write_recipients(tmp_path, 300)), "-m", "Hi {name}",
        "--region", "NL", "--valid-for", "30s", "-y",
    )  # fmt: skip

    async def some_sent() -> bool:
        return (await counts(database_url)).get("submitted", 0) >= 3

    await wait_for(some_sent, 30, "the first sends")
    conn = await asyncpg.connect(database_url)
    try:
        deadline = await conn.fetchval(
            "UPDATE campaigns SET valid_until = now() + interval '1 second' WHERE id = 1"
            " RETURNING valid_until"
        )
    finally:
        await conn.close()
    out, err = await asyncio.wait_for(sender.communicate(), 20)
    output = out.decode() + err.decode()

    assert sender.returncode == 0, output
    assert "would expire" in output  # the preview's warning: 300 at 5 msg/s take 1 min
    assert "campaign 1: completed" in output
    final = await counts(database_url)
    assert set(final) == {"submitted", "expired"}
    assert final["submitted"] + final["expired"] == 300 and final["expired"] > 200
    sent = sandbox.state.store.messages
    assert len(sent) == final["submitted"]
    assert max(m.created_at for m in sent) < deadline.timestamp()
    status = await campaigner(config, database_url, "status", "1")
    assert "expired" in status
