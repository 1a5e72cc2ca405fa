"""Migrations: fresh, repeated, concurrent, and a stepwise upgrade equal to a fresh install."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from campaigner.errors import DatabaseError
from campaigner.store import migrations
from campaigner.store.database import Database
from tests.fixtures.db import create_database, drop_database, url_of

ROOT = Path(__file__).resolve().parents[2]


async def test_fresh_database_gets_every_migration_once(empty_database_url: str) -> None:
    db = await Database.open(empty_database_url)
    try:
        applied = await migrations.upgrade(db)
        assert [m.version for m in applied] == [m.version for m in migrations.available()]
        assert await migrations.upgrade(db) == []  # repeated: nothing re-applied
        status = await migrations.status(db)
        assert status.pending == [] and len(status.applied) == len(applied)
    finally:
        await db.close()


async def test_two_connections_migrating_at_once_apply_each_file_once(empty_database_url: str) -> None:
    first, second = await Database.open(empty_database_url), await Database.open(empty_database_url)
    try:
        one, two = await asyncio.gather(migrations.upgrade(first), migrations.upgrade(second))
        assert sorted(m.version for m in one + two) == [m.version for m in migrations.available()]
        rows = await first.all("applied-migrations")
        assert len(rows) == len(migrations.available())
    finally:
        await first.close()
        await second.close()


async def test_two_processes_migrating_at_once_both_succeed(empty_database_url: str) -> None:
    code = (
        "import asyncio, sys\n"
        "from campaigner.store import migrations\nfrom campaigner.store.database import Database\n"
        "async def main():\n"
        "    db = await Database.open(sys.argv[1])\n"
        "    print(len(await migrations.upgrade(db)))\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
    )
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, empty_database_url, cwd=ROOT, stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert sorted(int(out) for out, _ in outputs) == [0, len(migrations.available())]


async def _schema(url: str) -> str:
    """pg_dump --schema-only, without the random \\restrict token of recent pg_dump versions."""
    proc = await asyncio.create_subprocess_exec(
        "pg_dump", "--schema-only", "--no-owner", url, stdout=subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    lines = out.decode().splitlines()
    return "\n".join(line for line in lines if not line.startswith(("\\restrict", "\\unrestrict")))


async def test_upgrading_step_by_step_equals_a_fresh_install(empty_database_url: str) -> None:
    stepwise = await Database.open(empty_database_url)
    fresh_name = await create_database()
    fresh = await Database.open(url_of(fresh_name))
    try:
        for migration in migrations.available():
            applied = await migrations.upgrade(stepwise, up_to=migration.version)
            assert [m.version for m in applied] == [migration.version]
        await migrations.upgrade(fresh)
        assert await _schema(empty_database_url) == await _schema(url_of(fresh_name))
    finally:
        await stepwise.close()
        await fresh.close()
        await drop_database(fresh_name)


async def test_a_database_migrated_by_a_newer_campaigner_is_refused(
    empty_database_url: str, tmp_path: Path
) -> None:
    *older, newest = migrations.available()
    for migration in older:
        (tmp_path / migration.path.name).write_text(migration.text(), encoding="utf-8")
    db = await Database.open(empty_database_url)
    try:
        await migrations.upgrade(db)
        with pytest.raises(DatabaseError) as refused:
            await migrations.upgrade(db, directory=tmp_path)
        assert newest.path.stem in str(refused.value) and "upgrade this one" in str(refused.value)
    finally:
        await db.close()
