"""Campaign lifecycle commands: create, campaigns, pause, resume, cancel, export (status: status.py).

`create` plans the CSV through `campaigner.planning.planner.Planner` and COPYs the sendable
messages into a new campaign in one transaction (a bad row half way leaves nothing). State
changes go through the store's guarded state machine; a running dispatcher hears them through
NOTIFY.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import click

from campaigner.app.lifecycle import ensure_not_purged
from campaigner.app.loading import NothingToSend, load_campaign
from campaigner.app.stop_queued import MessageStopper, stop_queued
from campaigner.app.wiring import RunWiring
from campaigner.cli.commands.preview import one_stdin
from campaigner.cli.confirm import confirm, need_a_terminal
from campaigner.cli.context import AppContext, pass_app
from campaigner.cli.formats import echo_csv, echo_json, format_option, neutralise
from campaigner.cli.safe import CAMPAIGN_ID, printable
from campaigner.cli.source_options import campaign_source_options, source_from_options
from campaigner.cli.stdin import readable
from campaigner.errors import UserError
from campaigner.inbound.policy import InboundPolicy
from campaigner.model.states import SENT_STATES, CampaignState, JobState
from campaigner.providers.registry import capabilities_of
from campaigner.store.store import Store, run_with_store


@click.command("create")
@campaign_source_options
@format_option("table", "json")
@pass_app
def create_command(app: AppContext, output_format: str, **options: Any) -> None:
    """Load RECIPIENTS into a new campaign (draft, or scheduled with --send-at) and show its preview."""
    config = app.config
    one_stdin(options["recipients"], options["message_file"])
    # `-`: standard input, kept in a temporary file until the command ends.
    options["recipients"] = click.get_current_context().with_resource(readable(options["recipients"]))
    source = source_from_options(**options)
    try:
        campaign_id, preview = run_with_store(config, lambda store: load_campaign(store, config, source))
    except NothingToSend as exc:
        if output_format != "json":
            from campaigner.cli.preview_table import render_preview

            render_preview(exc.preview)  # it says why every row was set aside
        raise
    state = CampaignState.SCHEDULED if source.send_at else CampaignState.DRAFT
    if output_format == "json":
        echo_json({"id": campaign_id, "state": state, "preview": preview.model_dump(mode="json")})
        return
    from campaigner.cli.preview_table import preview_windows, render_preview

    windows = preview_windows(preview, source.quiet_hours, config.compliance)
    render_preview(preview, quiet_hours=source.quiet_hours, windows=windows)
    scheduled = f" for {source.send_at.isoformat()}" if source.send_at else ""
    click.echo(f"campaign {campaign_id} created ({state}{scheduled}): {preview.sendable} messages")


# The columns of `campaigns --format csv` (a row's counts per state are in json only).
_CSV_COLUMNS = (
    *("id", "name", "state", "priority", "total", "progress", "cost_so_far", "estimated_cost"),
    *("currency", "reason", "created_at"),
)


def _progress(counts: dict[str, int], total: int) -> float:
    left = counts.get("pending", 0) + counts.get("sending", 0)
    return 1.0 if total == 0 else (total - left) / total


@click.command("campaigns")
@format_option("table", "json", "csv")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([str(s) for s in CampaignState]),
    help="Only campaigns in this state (repeat for several).",
)
@pass_app
def campaigns_command(app: AppContext, output_format: str, states: tuple[str, ...]) -> None:
    """List campaigns: id, name, state, priority, progress, cost so far / estimated."""
    summaries = run_with_store(app.config, lambda store: store.list_campaigns())
    if states:
        summaries = [s for s in summaries if s.state in states]
    rows = [
        {
            "id": s.id,
            "name": s.name,
            "state": s.state,
            "priority": s.priority,
            "total": s.total_jobs,
            "counts": s.counts,
            "progress": round(_progress(s.counts, s.total_jobs), 4),
            "cost_so_far": float(s.cost_so_far),
            "estimated_cost": float(s.estimated_cost),
            "currency": s.currency,
            "reason": s.reason,
            "created_at": s.created_at.isoformat(),
        }
        for s in summaries
    ]
    if output_format == "json":
        echo_json(rows)
        return
    if output_format == "csv":
        echo_csv(_CSV_COLUMNS, ([row[key] for key in _CSV_COLUMNS] for row in rows))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "name", "state", "prio", "progress", "cost so far / estimated", box=None)
    for row in rows:
        table.add_row(
            str(row["id"]),
            printable(str(row["name"])),  # a name may hold escape sequences: show them, never run them
            str(row["state"]),
            str(row["priority"]),
            f"{float(row['progress']):.1%}",  # type: ignore[arg-type]
            f"{row['cost_so_far']:.2f} / {row['estimated_cost']:.2f} {row['currency']}",
        )
    Console(markup=False).print(table)  # names are the user's: never rich markup


@click.command("pause")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@click.option("--reason", default="paused by hand", show_default=True)
@pass_app
def pause_command(app: AppContext, campaign_id: int, reason: str) -> None:
    """Stop sending CAMPAIGN_ID; `resume` continues it."""
    campaign = run_with_store(app.config, lambda store: store.pause_campaign(campaign_id, reason))
    click.echo(f"campaign {campaign.id}: {campaign.state}")


@click.command("resume")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@pass_app
def resume_command(app: AppContext, campaign_id: int) -> None:
    """Paused or draft → running (a scheduled campaign stays scheduled until its time)."""
    campaign = run_with_store(app.config, lambda store: store.resume_campaign(campaign_id))
    click.echo(f"campaign {campaign.id}: {campaign.state}")


@click.command("cancel")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@click.option(
    "--keep-queued",
    is_flag=True,
    help="Leave alone the messages still queued at the provider (by default they are stopped "
    "where the provider can stop them: Clickatell).",
)
@pass_app
def cancel_command(app: AppContext, campaign_id: int, keep_queued: bool) -> None:
    """Cancel CAMPAIGN_ID: every job not yet sent becomes cancelled, and messages still queued at
    the provider are stopped where it can (Clickatell); the rest is left as it is."""
    config = app.config

    async def cancel(store: Store) -> tuple[int, dict[str, int], Counter[str] | None]:
        cancelled = await store.cancel_campaign(campaign_id)
        stopped = None
        campaign = await store.get_campaign(campaign_id)
        own = campaign.provider_account in config.account_names()
        account = config.for_account(campaign.provider_account) if own else config
        if not keep_queued and own and capabilities_of(account.provider.type).stops_messages:
            wiring = RunWiring.build(store, account)
            try:
                if isinstance(wiring.provider, MessageStopper):
                    stopped = await stop_queued(
                        store, wiring.provider, campaign_id,
                        pace=lambda: wiring.throttle.acquire(0), policy=InboundPolicy.from_config(account),
                    )  # fmt: skip
            finally:
                await wiring.provider.close()
        return cancelled, await store.job_counts(campaign_id), stopped

    cancelled, counts, stopped = run_with_store(config, cancel)
    click.echo(f"campaign {campaign_id}: cancelled; {cancelled:,} pending jobs cancelled", nl=False)
    if stopped:
        click.echo(f"; {stopped['stopped']:,} still queued at the provider stopped", nl=False)
    with_provider = sum(counts.get(state, 0) for state in SENT_STATES)
    if with_provider:
        click.echo(f"; {with_provider:,} already with the provider (they stay sent)", nl=False)
    if sending := counts.get(JobState.SENDING, 0):
        # A dispatcher has their requests in flight: each is recorded as sent or settled by a
        # lookup as it stops, never sent again.
        click.echo(f"; {sending:,} being sent, settled as their dispatcher stops", nl=False)
    click.echo("")
    if stopped and stopped["failed"]:
        raise UserError("the provider could not answer every stop; run cancel again to stop the rest")


EXPORT_COLUMNS = (
    "job_id",
    "line",
    "e164",
    "country",
    "state",
    "attempts",
    "segments",
    "encoding",
    "cost",
    "provider_id",
    "error_code",
    "error_class",
    "error_message",
    "submitted_at",
    "finished_at",
    "reported_segments",
    "reported_cost",
    # Short links: the recipient's codes (space-separated), people's clicks on them, the first one.
    "link_codes",
    "link_clicks",
    "link_first_click_at",
)


@click.command("delete")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@click.option("--yes", "-y", is_flag=True, help="Do not ask first.")
@pass_app
def delete_command(app: AppContext, campaign_id: int, yes: bool) -> None:
    """Delete CAMPAIGN_ID (a draft, or completed, cancelled or failed) with all its jobs.

    Cannot be undone: `campaigner export` keeps a copy of the jobs first. A running, scheduled or
    paused campaign is refused (cancel it first).
    """
    if not yes:
        need_a_terminal("delete", "pass --yes")

    async def work(store: Store) -> int | None:
        campaign = await store.get_campaign(campaign_id)
        total = sum((await store.job_counts(campaign_id)).values())
        kept = f"campaign {campaign_id} and its {total:,} jobs are kept"
        question = (
            f"Delete campaign {campaign_id} {printable(campaign.name)!r} ({campaign.state}) and its "
            f"{total:,} jobs? This cannot be undone"
        )
        if not yes and not confirm(question, kept=kept):
            click.echo(f"not deleted: {kept}")
            return None
        return await store.delete_campaign(campaign_id)

    deleted = run_with_store(app.config, work)
    if deleted is not None:
        click.echo(f"campaign {campaign_id} deleted with its {deleted:,} jobs")


@click.command("export")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="CSV file (default: stdout).")
@pass_app
def export_command(app: AppContext, campaign_id: int, out: Path | None) -> None:
    """One CSV row per job of CAMPAIGN_ID: final state, provider id, error, cost."""
    if out is not None and not out.parent.exists():
        raise UserError(f"{out}: folder {out.parent} does not exist")

    async def work(store: Store) -> int:
        ensure_not_purged(await store.get_campaign(campaign_id))  # errors before any file is made
        if out is None:
            return await _write(store, sys.stdout)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                count = await _write(store, handle)
            os.replace(tmp, out)
        except BaseException:
            os.unlink(tmp)
            raise
        return count

    async def _write(store: Store, handle: Any) -> int:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        count = 0
        async for r in store.export_jobs(campaign_id):
            writer.writerow(
                [
                    r["id"],
                    r["line"],
                    r["e164"],
                    r["country"] or "",
                    r["state"],
                    r["attempts"],
                    r["segments"],
                    r["encoding"],
                    r["cost"],
                    r["provider_id"] or "",
                    r["error_code"] or "",
                    r["error_class"] or "",
                    neutralise(r["error_message"] or ""),
                    r["submitted_at"].isoformat() if r["submitted_at"] else "",
                    r["finished_at"].isoformat() if r["finished_at"] else "",
                    "" if r["reported_segments"] is None else r["reported_segments"],
                    "" if r["reported_cost"] is None else r["reported_cost"],
                    r["link_codes"] or "",
                    r["link_clicks"],
                    r["link_first_click_at"].isoformat() if r["link_first_click_at"] else "",
                ]
            )
            count += 1
        return count

    count = run_with_store(app.config, work)
    if out is not None:
        click.echo(f"{count} jobs written to {out}", err=True)


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    for command in (
        create_command,
        campaigns_command,
        pause_command,
        resume_command,
        cancel_command,
        delete_command,
        export_command,
    ):
        group.add_command(command)
