"""`campaigner send`, `run` and `retry`: carry a campaign in the foreground until it is done.

`send` loads a CSV into a new campaign, shows the preview and asks before sending (unless --yes);
`run` carries an existing campaign (after a pause, a crash or `resume`); `retry` puts back the jobs
that failed for reasons that can be fixed (transient errors, account or funds) and runs them.
Exit 0 when the campaign completes; 3 with the reason when it pauses or a signal stops it.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console

from campaigner.app.lifecycle import RETRYABLE, ensure_not_purged
from campaigner.app.loading import NothingToSend, load_campaign
from campaigner.app.signals import sigterm_interrupts
from campaigner.app.wiring import ensure_own_account
from campaigner.cli.commands.preview import one_stdin
from campaigner.cli.confirm import confirm
from campaigner.cli.context import AppContext, pass_app
from campaigner.cli.foreground import run_in_foreground
from campaigner.cli.preview_table import human_duration, preview_windows, render_preview
from campaigner.cli.safe import CAMPAIGN_ID
from campaigner.cli.source_options import campaign_source_options, source_from_options
from campaigner.cli.stdin import readable
from campaigner.config import Config
from campaigner.dispatch.runner import RunReport
from campaigner.errors import CampaignerError, UserError
from campaigner.model.states import ENDED_CAMPAIGN_STATES, CampaignState
from campaigner.observe.facts import live_facts
from campaigner.observe.wait import no_worker_text
from campaigner.planning.planner import Preview
from campaigner.planning.pricing import format_money
from campaigner.store.store import Store, run_with_store


def print_summary(report: RunReport, counts: dict[str, int], console: Console) -> None:
    """The closing lines of a run: final state and the count per job state."""
    shown = ", ".join(f"{state} {count:,}" for state, count in sorted(counts.items()))
    console.print(f"campaign {report.campaign_id}: {report.state}  ({shown})", highlight=False)
    if report.reconciled:
        settled = ", ".join(f"{k} {v}" for k, v in sorted(report.reconciled.items()))
        console.print(f"reconciled with the provider: {settled}", highlight=False)
    if unknown := counts.get("unknown", 0):
        console.print(
            f"{unknown:,} messages are unknown: their reply was lost and no status callback said whether "
            f"the provider has them; `campaigner retry {report.campaign_id} --unknown` sends them again "
            "(a duplicate for each that did arrive)",
            highlight=False,
        )


async def _run_and_summarise(
    store: Store, config: Config, campaign_id: int, allow_partial: bool, reopen: bool = False
) -> None:
    console = Console(stderr=True, markup=False)  # reasons quote the provider
    report = await run_in_foreground(
        store, config, campaign_id, allow_partial=allow_partial, reopen=reopen, console=console
    )
    print_summary(report, await store.job_counts(campaign_id), console)


async def _confirm_and_send(
    store: Store,
    config: Config,
    campaign_id: int,
    preview: Preview,
    yes: bool,
    detach: bool,
    allow_partial: bool,
) -> None:
    cost = format_money(preview.cost_total, preview.currency)
    question = (
        f"Send {preview.sendable:,} messages ({preview.segments_total:,} segments, {cost}, "
        f"about {human_duration(preview.eta_seconds)}) as campaign {campaign_id}?"
    )
    if not yes and not confirm(question, kept=_kept(campaign_id)):
        click.echo(f"not sent; {_kept(campaign_id)}")
        return
    if detach:
        campaign = await store.resume_campaign(campaign_id)
        click.echo(
            f"campaign {campaign_id} is {campaign.state}: a `campaigner daemon` on this database sends it"
        )
        carriers = (await live_facts(store, config, campaign_id)).workers
        if not carriers.live:
            click.echo(f"warning: {no_worker_text(campaign_id)}; until then nothing is sent", err=True)
        return
    await _run_and_summarise(store, config, campaign_id, allow_partial)


def _kept(campaign_id: int) -> str:
    return f"campaign {campaign_id} is kept as a draft (`campaigner run {campaign_id}`)"


async def _draft_note(store: Store, campaign_id: int) -> str | None:
    """What to tell the user when `send` ends with its campaign still a draft (else None)."""
    try:
        campaign = await store.get_campaign(campaign_id)
    except Exception:  # the database went away too: the original error is the one to show
        return None
    return _kept(campaign_id) if campaign.state == CampaignState.DRAFT else None


@click.command("send")
@campaign_source_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask before sending.")
@click.option("--detach", is_flag=True, help="Hand the campaign to the daemon instead of sending here.")
@click.option(
    "--allow-partial", is_flag=True, help="Start even when the balance does not cover the estimate."
)
@pass_app
def send_command(app: AppContext, yes: bool, detach: bool, allow_partial: bool, **options: Any) -> None:
    """Load RECIPIENTS into a new campaign, show the preview, confirm, and send it in the foreground."""
    config = app.config
    one_stdin(options["recipients"], options["message_file"])
    # `-`: standard input, kept in a temporary file until the command ends.
    options["recipients"] = click.get_current_context().with_resource(readable(options["recipients"]))
    source = source_from_options(**options)
    if not yes and not sys.stdin.isatty():
        raise UserError(
            "send asks before sending, and there is no terminal to ask on: pass --yes "
            "(or load it with `campaigner create` and start it with `campaigner run ID`)"
        )
    if not detach:
        config.provider.api_key()  # unset: found before a campaign is made, not after it

    async def work(store: Store) -> None:
        try:
            campaign_id, preview = await load_campaign(store, config, source)
        except NothingToSend as exc:
            render_preview(exc.preview, quiet_hours=source.quiet_hours)
            raise
        windows = preview_windows(preview, source.quiet_hours, config.compliance)
        render_preview(preview, quiet_hours=source.quiet_hours, windows=windows)
        try:
            with sigterm_interrupts():
                await _confirm_and_send(store, config, campaign_id, preview, yes, detach, allow_partial)
        except BaseException as exc:
            note = await _draft_note(store, campaign_id)
            if note is None:
                raise
            if isinstance(exc, CampaignerError):
                # Refused before the first message (sender, balance, the provider unreachable):
                # the error says where the campaign is, so a retry does not pile up drafts.
                exc.args = (f"{exc}; {note}",)
            else:  # interrupted (Ctrl-C at the question, SIGINT/SIGTERM before the run took over)
                click.echo(note, err=True)
            raise

    run_with_store(config, work)


@click.command("run")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@click.option(
    "--allow-partial", is_flag=True, help="Start even when the balance does not cover the estimate."
)
@pass_app
def run_command(app: AppContext, campaign_id: int, allow_partial: bool) -> None:
    """Carry an existing campaign in the foreground (a draft, a paused one, or one a crash left running)."""
    config = app.config
    run_with_store(config, lambda store: _run_and_summarise(store, config, campaign_id, allow_partial))


@click.command("retry")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@click.option(
    "--reasons",
    default=",".join(RETRYABLE),
    show_default=True,
    help="Error classes to put back (transient, account, funds). Opt-outs and recipient errors never are.",
)
@click.option(
    "--unknown",
    "include_unknown",
    is_flag=True,
    help="Also send again the jobs in state `unknown` (no callback said whether the provider has "
    "them): a duplicate for every one that did reach it.",
)
@click.option(
    "--allow-partial", is_flag=True, help="Start even when the balance does not cover the estimate."
)
@pass_app
def retry_command(
    app: AppContext, campaign_id: int, reasons: str, include_unknown: bool, allow_partial: bool
) -> None:
    """Put a campaign's fixable rejected jobs back to pending and run them."""
    config = app.config
    wanted = [r.strip() for r in reasons.split(",") if r.strip()]
    unknown = sorted(set(wanted) - set(RETRYABLE))
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)} (choose from {', '.join(RETRYABLE)})", param_hint="--reasons"
        )

    async def work(store: Store) -> None:
        campaign = await store.get_campaign(campaign_id)  # a clear error for an unknown id
        ensure_own_account(campaign, config)  # before any job is put back
        ensure_not_purged(campaign)
        count = await store.retry_rejected(campaign_id, wanted)
        if include_unknown:
            count += await store.retry_unknown(campaign_id)
        click.echo(f"campaign {campaign_id}: {count:,} jobs put back to pending", err=True)
        if count == 0 and campaign.state in ENDED_CAMPAIGN_STATES:
            return  # nothing to retry is not an error: the campaign stays as it was
        await _run_and_summarise(store, config, campaign_id, allow_partial, reopen=count > 0)

    run_with_store(config, work)


def register(group: click.Group) -> None:
    """Add this module's commands to `group`."""
    group.add_command(send_command)
    group.add_command(run_command)
    group.add_command(retry_command)
