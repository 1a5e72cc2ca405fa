"""`campaigner db stop` and `campaigner db embedded`: the embedded PostgreSQL's own commands.

They are added to the `db` group of campaigner/cli/commands/db.py. Neither starts the server: `stop`
stops it (refusing while another campaigner process uses it, unless --force), `embedded` shows
where it lives and whether it runs (`db status` shows the schema of whichever database is in use).
"""

from __future__ import annotations

import click

from campaigner.cli.context import AppContext, pass_app
from campaigner.cli.formats import echo_json, format_option
from campaigner.errors import UserError
from campaigner.store.database import describe_url
from campaigner.store.embedded.cluster import data_dir, embedded_status, stop_embedded


@click.command("stop")
@click.option("--force", is_flag=True, help="Stop it even while other campaigner processes use it.")
@pass_app
def stop_command(app: AppContext, force: bool) -> None:
    """Stop the embedded PostgreSQL (it also stops by itself when its last user exits)."""
    config = app.config
    if config.database_url():
        raise UserError(
            f"database.url is set ({describe_url(config.database_url())}): "
            "campaigner only stops the embedded server it runs itself"
        )
    where = data_dir(config)
    if stop_embedded(config, force=force):
        click.echo(f"stopped the embedded PostgreSQL in {where}")
    else:
        click.echo(f"the embedded PostgreSQL in {where} is not running")


@click.command("embedded")
@format_option("table", "json")
@pass_app
def embedded_command(app: AppContext, output_format: str) -> None:
    """Where the embedded PostgreSQL keeps its data, whether it runs, its URL and version."""
    config = app.config
    report = embedded_status(config)
    report["in_use"] = not config.database_url()  # False: database.url points elsewhere
    if output_format == "json":
        echo_json(report)
        return
    if not report["in_use"]:
        click.echo(f"not used: database.url is set ({describe_url(config.database_url())})")
    click.echo(f"data folder: {report['data_dir']} (server user {report['server_user']})")
    if not report["initialised"]:
        click.echo("state: not created yet (the first command that needs the database creates it)")
    elif report["running"]:
        click.echo(f"state: running, pid {report['pid']}, used by {report['users']} campaigner process(es)")
        click.echo(f"url: {report['url']}")
    else:
        click.echo("state: stopped (the next command that needs the database starts it)")
    click.echo(f"server version: {report['server_version']} (data: {report['data_version'] or '-'})")


def register(group: click.Group) -> None:
    """Add `stop` and `embedded` to the `db` group."""
    from campaigner.cli.commands.db import db_group

    db_group.add_command(stop_command)
    db_group.add_command(embedded_command)
