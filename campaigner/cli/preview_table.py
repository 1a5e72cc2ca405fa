"""The human-readable (rich) rendering of a `Preview`: totals, countries, encodings, rejects, ETA."""

from __future__ import annotations

from datetime import time

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

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


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def render_preview(
    preview: Preview, console: Console | None = None, quiet_hours: tuple[time, time] | None = None
) -> None:
    """Print `preview` as tables; nothing here computes, it only shows.

    `quiet_hours` (a campaign's send window): the time to send counts sending time only, which the
    table says, since the window stretches it by however many hours each country is outside it.
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
    totals.add_row("time to send", human_duration(preview.eta_seconds), when)
    out.print(totals)

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
