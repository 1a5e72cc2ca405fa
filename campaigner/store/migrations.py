"""Schema migrations: the numbered files of `sql/migrations/`, applied in order, each exactly once.

`upgrade` runs in one transaction that first takes a transaction-scoped advisory lock, so two
processes (two `campaigner` commands, two daemons starting together) can call it at the same time:
the second waits, then finds nothing left to do. Each applied file is recorded in
`schema_migrations`; a file that fails rolls the whole run back and names itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from importlib.resources.abc import Traversable
from typing import Any

from campaigner.errors import ConfigError, DatabaseError
from campaigner.store.database import MIGRATIONS_DIR, Database, describe_url, sql_files

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    path: Traversable

    def text(self) -> str:
        """The SQL of the migration."""
        return self.path.read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    """What `campaigner db status` shows about the schema."""

    applied: list[tuple[int, str, datetime]]
    pending: list[Migration]


def available(directory: Traversable = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; a misnamed file or a repeated version is an error."""
    found: list[Migration] = []
    for path in sql_files(directory):
        match = _FILE.match(path.name)
        if not match:
            raise ConfigError(f"{path}: migration files are named NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ConfigError(f"{directory}: two migrations share a version number")
    if not found:
        raise ConfigError(f"{directory}: no migrations (*.sql) found; is campaigner installed whole?")
    return found


async def status(db: Database, directory: Traversable = MIGRATIONS_DIR) -> MigrationStatus:
    """Applied and pending migrations, without changing anything."""
    applied: list[tuple[int, str, datetime]] = []
    if await db.value("migrations-table-exists"):
        applied = [(r["version"], r["name"], r["applied_at"]) for r in await db.all("applied-migrations")]
    done = {version for version, _, _ in applied}
    return MigrationStatus(applied, [m for m in available(directory) if m.version not in done])


async def upgrade(
    db: Database, directory: Traversable = MIGRATIONS_DIR, up_to: int | None = None
) -> list[Migration]:
    """Apply every pending migration (up to version `up_to`); returns those applied by this call."""
    known = available(directory)
    wanted = [m for m in known if up_to is None or m.version <= up_to]
    # Fast path without the lock: the usual case of a command on an up-to-date database.
    if await db.value("migrations-table-exists"):
        rows = await db.all("applied-migrations")
        _refuse_newer_schema(rows, known, db.url)
        done = {r["version"] for r in rows}
        if all(m.version in done for m in wanted):
            return []
    applied: list[Migration] = []
    async with db.transaction() as tx:
        await tx.value("migrations-lock")
        await tx.execute("migrations-table")
        done = {r["version"] for r in await tx.all("applied-migrations")}
        for migration in wanted:
            if migration.version in done:
                continue
            await tx.run_script(migration.text(), f"migration {migration.path.name}")
            await tx.execute("record-migration", migration.version, migration.name)
            applied.append(migration)
    return applied


def _refuse_newer_schema(applied: list[Any], known: list[Migration], url: str) -> None:
    """A database a newer campaigner migrated may work differently (0006 moved the suppression
    check into the claim and the load's counting into Python): an older campaigner must not use it.
    """
    versions = {m.version for m in known}
    newer = [f"{r['version']:04d}_{r['name']}" for r in applied if r["version"] not in versions]
    if newer:
        raise DatabaseError(
            f"the database at {describe_url(url)} has migration {', '.join(newer)}, which this campaigner "
            "does not know: a newer campaigner upgraded it; upgrade this one"
        )
