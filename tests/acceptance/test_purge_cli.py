"""`campaigner purge --finished-before DATE`: the jobs of ended campaigns go, the campaigns and their
totals stay, nothing else is touched, a purged campaign never runs again, and an interrupted purge
is finished by the next one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from tests.acceptance.test_lifecycle_cli import campaigner


async def jobs_by_campaign(url: str) -> dict[int, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT campaign_id, count(*) FROM jobs GROUP BY 1")
        return {r[0]: r[1] for r in rows}
    finally:
        await conn.close()


async def sql(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def test_purge_deletes_the_jobs_of_ended_campaigns_and_keeps_their_totals(
    database_url: str, tmp_path: Path
) -> None:
    recipients = tmp_path / "r.csv"
    recipients.write_text("phone\n+31612345678\n+31612345679\n+31612345670\n", encoding="utf-8")
    for _ in range(4):
        await campaigner(database_url, "create", str(recipients), "-m", "Hi")
    # 1 stays a draft, 2 runs, 3 is cancelled, 4 fails: 3 and 4 have ended.
    for campaign in ("2", "3", "4"):
        await campaigner(database_url, "resume", campaign)
    await campaigner(database_url, "cancel", "3")
    await sql(database_url, "UPDATE campaigns SET state = 'failed', reason = 'test' WHERE id = 4")
    now = datetime.now(UTC).isoformat()

    _, err = await campaigner(database_url, "purge", "--finished-before", "2999-01-01", "--yes", expect=2)
    assert "--finished-before" in err and "is in the future" in err
    _, err = await campaigner(database_url, "purge", "--finished-before", "last week", "--yes", expect=2)
    assert "'last week' is not a date" in err
    _, err = await campaigner(database_url, "purge", "--finished-before", now, expect=2)
    assert "purge asks first, and there is no terminal to ask on: pass --yes" in err
    out, _ = await campaigner(database_url, "purge", "--finished-before", "2020-01-01", "--yes")
    assert out.strip() == "nothing to purge: no campaign ended before 2020-01-01T00:00:00+00:00"

    out, _ = await campaigner(database_url, "purge", "--finished-before", now, "--dry-run")
    assert "campaign 3 " in out and "campaign 4 " in out and "campaign 2 " not in out
    assert "would purge 6 jobs of 2 campaigns (dry run: nothing changed)" in out
    assert await jobs_by_campaign(database_url) == {1: 3, 2: 3, 3: 3, 4: 3}

    out, _ = await campaigner(database_url, "purge", "--finished-before", now, "--yes", "--batch", "1000")
    assert "campaign 3: purged 3 jobs in" in out and "campaign 4: purged 3 jobs in" in out
    assert await jobs_by_campaign(database_url) == {1: 3, 2: 3}

    # The totals are the counters', which the purge left alone.
    out, _ = await campaigner(database_url, "status", "3", "--format", "json")
    assert json.loads(out)["counts"]["cancelled"] == 3
    out, _ = await campaigner(database_url, "status", "4", "--format", "json")
    assert sum(json.loads(out)["counts"].values()) == 3
    # Purged: never again, and not listed by a second purge.
    _, err = await campaigner(database_url, "retry", "4", expect=2)
    assert "campaign 4 was purged" in err
    out, _ = await campaigner(database_url, "purge", "--finished-before", now, "--yes")
    assert out.startswith("nothing to purge")


async def test_an_interrupted_purge_is_finished_by_the_next(database_url: str, tmp_path: Path) -> None:
    recipients = tmp_path / "r.csv"
    recipients.write_text("phone\n+31612345678\n+31612345679\n", encoding="utf-8")
    await campaigner(database_url, "create", str(recipients), "-m", "Hi")
    await campaigner(database_url, "resume", "1")
    await campaigner(database_url, "cancel", "1")
    # As a purge killed after marking the campaign and before deleting its jobs leaves it.
    await sql(database_url, "UPDATE campaigns SET purged_at = now() WHERE id = 1")

    out, _ = await campaigner(database_url, "purge", "--finished-before", "1d", "--yes")
    assert "campaign 1: finished an interrupted purge of 2 jobs" in out
    assert await jobs_by_campaign(database_url) == {}
    out, _ = await campaigner(database_url, "status", "1", "--format", "json")
    assert json.loads(out)["counts"]["cancelled"] == 2
