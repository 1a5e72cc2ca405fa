"""The human-readable (rich) rendering of a `Preview`: totals, countries, encodings, rejects, ETA."""

from __future__ import annotations

from datetime import UTC, datetime, time

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from campaigner.compliance.windows import CountryWindow, country_windows, windows_from_settings
from campaigner.config import ComplianceSettings
from campaigner.planning.planner import Preview
from campaigner.planning.pricing import format_money

_REASONS = (
    ("invalid", "invalid number"),
    ("not_sms_capable", "not SMS-capable (landline…)"),
    ("duplicates", "duplicate"),
    ("suppressed", "suppressed"),
    ("empty_value", "empty placeholder value"),
    ("too_long", "message too long"),
    ("malformed", "malformed row"),
)
_BAR_WIDTH = 30
_SHOWN_REJECTS = 10


def human_duration(seconds: float) -> str:
    """`seconds` as people say it: "45 s", "12 min 5 s", "3 h 20 min", "2 d 4 h"."""
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def expiry_warning(preview: Preview) -> str | None:
    """'40,000 messages at 1 msg/s take 11 h; 18,000 would expire', when the time to send at the
    provider's limits passes the campaign's validity; None when it fits."""
    if not preview.expiring or preview.valid_for_seconds is None or preview.eta_seconds <= 0:
        return None
    rate = preview.sendable / preview.eta_seconds
    shown = f"{rate:,.0f}" if rate >= 10 else f"{rate:.2g}"
    return (
        f"Warning: {preview.sendable:,} messages at {shown} msg/s take "
        f"{human_duration(preview.eta_seconds)}; {preview.expiring:,} would expire "
        f"(valid for {human_duration(preview.valid_for_seconds)})"
    )


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def preview_windows(
    preview: Preview,
    quiet_hours: tuple[time, time] | None,
    compliance: ComplianceSettings,
    now: datetime | None = None,
) -> tuple[CountryWindow, ...]:
    """The sending window of each country of the preview, as it stands `now`: what would wait."""
    left: dict[str, int] = {}
    for line in preview.by_country:
        left[line.country or ""] = left.get(line.country or "", 0) + line.recipients
    return country_windows(windows_from_settings(quiet_hours, compliance), left, now or datetime.now(UTC))


def render_preview(
    preview: Preview,
    console: Console | None = None,
    quiet_hours: tuple[time, time] | None = None,
    windows: tuple[CountryWindow, ...] = (),
) -> None:
    """Print `preview` as tables; nothing here computes, it only shows.

    `quiet_hours` (a campaign's send window) or `windows` (each country's, from `preview_windows`):
    the time to send counts sending time only, which the table says, since the windows stretch it
    by however many hours each country is outside its own; `windows` also says which countries'
    messages would wait now and when their window opens.
    """
    out = console or Console(highlight=False)
    region = preview.region or "none (international formats only)"
    # File names, column names and cell values are the user's: Text, never parsed as rich markup.
    heading = f" of {preview.file}  (phone column: {preview.phone_column}, region: {region})"
    out.print(Text.assemble(("Preview", "bold"), heading))

    totals = Table(box=box.SIMPLE, show_header=False)
    totals.add_column(style="bold")
    totals.add_column(justify="right")
    totals.add_column(justify="right", style="dim")
    totals.add_row("rows", f"{preview.rows:,}", "")
    totals.add_row("sendable", f"{preview.sendable:,}", _percent(preview.sendable, preview.rows))
    if preview.no_consent is not None:  # consent.require_opt_in
        totals.add_row(
            "  no_consent",
            f"{preview.no_consent:,}",
            "of the sendable: no recorded opt-in now, skipped when claimed unless one is recorded",
        )
    for field, label in _REASONS:
        count = getattr(preview, field)
        if count:
            totals.add_row(f"  {label}", f"{count:,}", _percent(count, preview.rows))
    totals.add_row("segments", f"{preview.segments_total:,}", "")
    totals.add_row("cost", format_money(preview.cost_total, preview.currency), "")
    if preview.credits is not None:
        unpriced = preview.credits.get("unpriced") or {}
        totals.add_row(
            "credits",
            f"≥ {preview.credits['at_least']:,.2f}",
            "the provider's minimum charge per part, from coverage"
            + (f"; not priced: {', '.join(sorted(unpriced))}" if unpriced else ""),
        )
    elif preview.credits_note:
        totals.add_row("credits", "?", preview.credits_note)
    when = "at the provider's limits"
    if quiet_hours is not None:
        start, end = (t.strftime("%H:%M") for t in quiet_hours)
        when += f", sending time only: sends pause outside {start}-{end} recipient-local time"
    elif windows:
        when += ", sending time only: sends pause outside each country's window (below)"
    totals.add_row("time to send", human_duration(preview.eta_seconds), when)
    waiting = sum(w.waiting for w in windows)
    if waiting:
        first = min((w.opens_at for w in windows if w.opens_at is not None), default=None)
        opens = f"; the first window opens {first.isoformat(timespec='minutes')}" if first else ""
        totals.add_row("waiting now", f"{waiting:,}", f"outside their country's window{opens}")
    if preview.footer:
        totals.add_row("footer", Text(preview.footer), "on every message, counted in segments and cost")
    if preview.capped:
        totals.add_row(
            "frequency-capped now",
            f"{preview.capped:,}",
            "at [compliance] frequency_cap already: skipped or held back when claimed, unless the "
            "window has moved on by then",
        )
    if preview.valid_for_seconds is not None:
        totals.add_row("valid for", human_duration(preview.valid_for_seconds), "then unsent messages expire")
    out.print(totals)
    if expiry := expiry_warning(preview):
        out.print(Text(expiry, style="bold yellow"))
    if windows:
        table = Table(
            title="Sending windows (recipients' local time)", box=box.SIMPLE_HEAD, title_justify="left"
        )
        for column in ("country", "window", "now", "opens", "waiting"):
            table.add_column(column, justify="right" if column == "waiting" else "left")
        for w in windows:
            opens = (
                "-"
                if w.open_now
                else (w.opens_at.isoformat(timespec="minutes") if w.opens_at else "not in 14 d")
            )
            table.add_row(
                w.country or "(non-geographic)",
                w.window,
                "open" if w.open_now else "closed",
                opens,
                f"{w.waiting:,}",
            )
        out.print(table)

    if preview.by_country:
        countries = Table(title="By country", box=box.SIMPLE_HEAD, title_justify="left")
        countries.add_column("country")
        countries.add_column("recipients", justify="right")
        countries.add_column("segments", justify="right")
        countries.add_column("cost", justify="right")
        credits = (preview.credits or {}).get("per_country")
        if credits is not None:
            countries.add_column("credits ≥", justify="right")
        for line in preview.by_country:
            cells = [
                line.country or "(non-geographic)",
                f"{line.recipients:,}",
                f"{line.segments:,}",
                format_money(line.cost, preview.currency),
            ]
            if credits is not None:
                known = credits.get(line.country or "")
                cells.append("?" if known is None else f"{known:,.2f}")
            countries.add_row(*cells)
        out.print(countries)

    sendable = preview.sendable
    mix = ", ".join(
        f"{name} {count:,} ({_percent(count, sendable)})" for name, count in preview.encodings.items()
    )
    out.print(f"[bold]Encoding[/]: {mix}")
    if preview.segments_histogram:
        out.print("[bold]Segments per message[/]:")
        peak = max(preview.segments_histogram.values())
        for segments, count in preview.segments_histogram.items():
            bar = "█" * max(1, round(_BAR_WIDTH * count / peak))
            out.print(f"  {segments:>3}  {bar} {count:,}")

    smart = preview.smart_encoding
    if smart.applied:
        out.print(
            f"[bold]Smart encoding[/]: saved {smart.segments:,} segments "
            f"({format_money(smart.cost, preview.currency)}) on {smart.messages:,} messages"
        )
    elif smart.segments > 0:
        out.print(
            f"[bold]Smart encoding[/]: --smart-encoding would save {smart.segments:,} segments "
            f"({format_money(smart.cost, preview.currency)}) on {smart.messages:,} messages"
        )

    links = preview.links
    if links.links:
        out.print(
            Text.assemble(
                ("Short links", "bold"),
                f": {links.links} a message, {links.short_chars} characters each (e.g. {links.example}"
                f", the longest target {links.long_chars}); shortening saved {links.segments:,} segments "
                f"({format_money(links.cost, preview.currency)}) on {links.messages:,} messages",
            )
        )

    if preview.warnings:
        out.print(Text("Warnings", style="bold yellow"))
        for warning in preview.warnings:
            lines = f"lines {warning.first_line}-{warning.last_line}"
            out.print(Text.assemble(("  ", ""), (lines, "yellow"), f": {warning.detail}"))
        left = preview.warnings_total - len(preview.warnings)
        if left > 0:
            out.print(f"[dim]  … and {left:,} more such rows[/]")
        rows = "1 row was" if preview.multiline_rows == 1 else f"{preview.multiline_rows:,} rows were"
        out.print(
            f"[dim]  {rows} read from more than one line, so the file's "
            f"row count is {preview.extra_lines:,} lower than its line count; check the quoting on "
            "those lines (--strict makes this an error)[/]"
        )

    if preview.first_rejects:
        rejects = Table(title="First rejected rows", box=box.SIMPLE_HEAD, title_justify="left")
        rejects.add_column("line", justify="right")
        rejects.add_column("value")
        rejects.add_column("reason")
        rejects.add_column("detail", overflow="fold")
        for row in preview.first_rejects[:_SHOWN_REJECTS]:
            rejects.add_row(str(row.line), Text(repr(row.raw)[1:-1]), row.reason, Text(row.detail))
        out.print(rejects)
        more = preview.rejected - min(len(preview.first_rejects), _SHOWN_REJECTS)
        if more > 0:
            out.print(f"[dim]… and {more:,} more (write them all with --rejects-out FILE)[/]")
