"""`campaigner db upgrade|status`: the schema of the configured database.

Every other command that needs the database applies pending migrations itself; `db upgrade` is for
doing it ahead of time (deploys), `db status` shows where the database is and what is applied.
Other modules may add subcommands to `db_group` (the embedded server adds its own).
"""

from __future__ import annotations

import click

from campaigner.cli.context import AppContext, pass_app
from campaigner.cli.formats import echo_json, format_option
from campaigner.store import migrations
from campaigner.store.database import Database, describe_url
from campaigner.store.store import Store, run_with_store


@click.group("db")
def db_group() -> None:
    """The database: schema migrations and status."""


@db_group.command("upgrade")
@pass_app
def upgrade_command(app: AppContext) -> None:
    """Apply pending schema migrations (safe to run from several processes at once)."""

    async def work(store: Store) -> list[migrations.Migration]:
        return await migrations.upgrade(store.db)

    applied = run_with_store(app.config, work, migrate=False)
    if not applied:
        click.echo("schema up to date")
    for migration in applied:
        click.echo(f"applied {migration.version:04d} {migration.name}")


@db_group.command("status")
@format_option("table", "json")
@pass_app
def status_command(app: AppContext, output_format: str) -> None:
    """Where the database is, its server version, and the migrations applied and pending."""

    async def work(store: Store) -> dict[str, object]:
        db: Database = store.db
        server = await db.one("server-version")
        state = await migrations.status(db)
        # The workers table comes with the first migration: a fresh database has none yet.
        workers = await store.list_workers() if state.applied else []
        return {
            "database": describe_url(db.url),
            "server_version": server["version"] if server else None,
            "applied": [{"version": v, "name": n, "applied_at": a.isoformat()} for v, n, a in state.applied],
            "pending": [{"version": m.version, "name": m.name} for m in state.pending],
            "workers": [
                {"id": w.id, "hostname": w.hostname, "pid": w.pid, "heartbeat_at": w.heartbeat_at.isoformat()}
                for w in workers
            ],
        }

    report = run_with_store(app.config, work, migrate=False)
    if output_format == "json":
        echo_json(report)
        return
    click.echo(f"database: {report['database']} (PostgreSQL {report['server_version']})")
    applied = report["applied"]
    pending = report["pending"]
    assert isinstance(applied, list) and isinstance(pending, list)
    click.echo(f"migrations: {len(applied)} applied, {len(pending)} pending")
    for item in pending:
        click.echo(f"  pending {item['version']:04d} {item['name']}")
    workers = report["workers"]
    assert isinstance(workers, list)
    click.echo(f"workers: {len(workers)}")


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(db_group)
