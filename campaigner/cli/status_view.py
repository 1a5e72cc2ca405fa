"""What `status` shows of a campaign, from `campaigner.observe.facts`: plain lines, a rich panel for
`status --watch` on a terminal, and one line an interval for `--watch` off a terminal.

Every figure comes from the facts (the dashboard and the API show the same ones); this module only
words them. Texts the user or the provider wrote (name, message, error messages) pass `printable`.
"""

from __future__ import annotations

from typing import Any

from campaigner.cli.safe import printable
from campaigner.model.states import CampaignState, JobState
from campaigner.observe.facts import CampaignFacts, LiveFacts

# States shown in the counts line, in the order a job moves through them.
_STATE_ORDER = tuple(str(state) for state in JobState)
# The message is shown up to this many characters on one line.
_MESSAGE_CHARS = 70


def duration(seconds: float) -> str:
    """`seconds` as a person reads it: 45 s, 12 min, 3 h 05 min."""
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def carriers_line(live: LiveFacts) -> str | None:
    """Who carries the campaign: its live workers, or the sentence saying none does."""
    if live.workers.note:
        return live.workers.note
    if not live.workers.live or live.state not in (CampaignState.RUNNING, CampaignState.SCHEDULED):
        return None  # an ended, paused or draft campaign is carried by nobody, whoever is alive
    shown = [
        f"{w.id} (pid {w.pid} on {printable(w.hostname)}, heartbeat {w.heartbeat_age_seconds:.0f} s ago"
        + (", holding jobs)" if w.holds_jobs else ")")
        for w in live.workers.live
    ]
    return "carried by " + "; ".join(shown)


def counts_line(live: LiveFacts) -> str:
    counts = ", ".join(f"{state} {live.counts[state]:,}" for state in _STATE_ORDER if live.counts.get(state))
    return f"{live.done:,} of {live.total:,} done ({live.progress:.1%})" + (f"; {counts}" if counts else "")


def rate_line(live: LiveFacts) -> str:
    """The recent rate against the limit, and the ETA when something sends."""
    limit = f" (the account allows {live.rate_limit:g}/s)" if live.rate_limit else ""
    line = f"rate {live.rate:.2f} messages/s over the last {live.rate_window_seconds:.0f} s{limit}"
    if live.eta_seconds is not None:
        line += f"; about {duration(live.eta_seconds)} to go"
    return line


def cost_line(live: LiveFacts) -> str:
    return f"cost so far {live.cost_so_far:.2f} of {live.estimated_cost:.2f} {live.currency} (estimated)"


def _clip(text: str) -> str:
    text = printable(text)
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


def setup_rows(facts: CampaignFacts) -> list[tuple[str, str]]:
    """What the campaign sends, from whom, to where and when, as (label, text)."""
    rows = [("message", _clip(facts.message))]
    if facts.sample is not None:
        segments = facts.sample.segments
        rows.append(
            (
                "as sent",
                f"{_clip(facts.sample.body)} (line {facts.sample.line}; {segments} segment"
                f"{'s' if segments != 1 else ''}, {facts.sample.encoding})",
            )
        )
    sender = printable(facts.sender) or "the account's default"
    rows.append(("sender", f"{sender}; region {facts.region or 'none (international numbers only)'}"))
    when = []
    if facts.live.send_at is not None:
        when.append(f"send at {facts.live.send_at.isoformat(timespec='seconds')}")
    if facts.quiet_hours is not None:
        start, end = facts.quiet_hours
        when.append(f"quiet hours: sends only {start:%H:%M}-{end:%H:%M} in the recipients' time")
    elif facts.windows:
        when.append("sending windows: each recipient's country's, in their time (below)")
    else:
        when.append("no quiet hours")
    rows.append(("schedule", "; ".join(when)))
    # --priority: weighs its share of the account's rate under [dispatcher] fairness = "priority".
    rows.append(("priority", str(facts.priority)))
    return rows


def window_lines(facts: CampaignFacts) -> list[str]:
    """One line per country with messages left under sending windows: open, or when it opens and
    how many wait for it."""
    lines = []
    for w in facts.windows:
        country = w.country or "(no country)"
        if w.open_now:
            lines.append(f"window {country}: open now ({w.window})")
            continue
        opens = (
            "not within 14 days"
            if w.opens_at is None
            else f"opens {w.opens_at.isoformat(timespec='minutes')}"
        )
        lines.append(f"window {country}: closed, {opens}; {w.waiting:,} waiting ({w.window})")
    return lines


def status_lines(facts: CampaignFacts, reported: dict[str, Any] | None = None) -> list[str]:
    """Everything plain `status` prints, one string a line."""
    live = facts.live
    reason = f" ({printable(live.reason)})" if live.reason else ""
    lines = [f"campaign {live.id} {printable(live.name)!r}: {live.state}{reason}"]
    body = []
    if carried := carriers_line(live):
        body.append(carried)
    if live.wait is not None and live.wait.code != "no_worker":  # that one is the carriers line
        body.append(f"waiting: {live.wait.text}")
    body.append(counts_line(live))
    if live.state == CampaignState.RUNNING:  # a draft's or a finished campaign's rate says nothing
        body.append(rate_line(live))
    body.append(cost_line(live))
    if reported is not None:
        more = reported["more_segments_than_estimated"]
        body.append(
            f"reported by the provider for {reported['messages']} messages: {reported['cost']:.2f} "
            f"(estimated {reported['estimated_cost']:.2f})"
            + (f"; {more} counted more segments than the preview" if more else "")
        )
    if (clicks := facts.clicks) is not None:
        rate = "-" if clicks.click_through_rate is None else f"{clicks.click_through_rate:.1%}"
        body.append(
            f"short links: {clicks.clicks:,} clicks by {clicks.unique_clickers:,} recipients "
            f"(click-through {rate} of {clicks.delivered:,} delivered; "
            f"{clicks.bot_clicks:,} bots not counted)"
        )
    body += [f"{label}: {text}" for label, text in setup_rows(facts)]
    body += window_lines(facts)
    for error in facts.errors:
        text = printable(f"{error.code or error.error_class or ''} {error.message or ''}".strip())
        body.append(f"{error.jobs:,} {error.state}: {text}")
    return lines + [f"  {line}" for line in body]


def watch_line(live: LiveFacts) -> str:
    """One line of `status --watch` off a terminal: state, progress, rate, ETA, wait."""
    parts = [f"campaign {live.id}: {live.state}", f"{live.done:,}/{live.total:,} done ({live.progress:.1%})"]
    parts.append(f"{live.rate:.2f}/s")
    if live.eta_seconds is not None:
        parts.append(f"about {duration(live.eta_seconds)} to go")
    if live.wait is not None:
        parts.append(live.wait.text)
    return "; ".join(parts)


def watch_panel(facts: CampaignFacts) -> Any:
    """The live view of `status --watch` on a terminal: a rich renderable of the same facts."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    live = facts.live
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold")
    table.add_column()
    rows: list[tuple[str, Any]] = [("state", f"{live.state}" + (f" ({live.reason})" if live.reason else ""))]
    rows.append(("carried by", carriers_line(live) or "-"))
    if live.wait is not None and live.wait.code != "no_worker":
        rows.append(("waiting", live.wait.text))
    rows.append(("", ProgressBar(total=max(live.total, 1), completed=live.done, width=50)))
    rows += [("progress", counts_line(live)), ("rate", rate_line(live)), ("cost", cost_line(live))]
    rows += setup_rows(facts)
    for error in facts.errors[:5]:
        rows.append(("error", f"{error.jobs:,} {error.state}: {error.code or ''} {error.message or ''}"))
    for name, value in rows:
        table.add_row(Text(name), Text(printable(value)) if isinstance(value, str) else value)
    title = Text(f"campaign {live.id} {printable(live.name)!r}")
    footer = Text(f"as of {live.as_of:%H:%M:%S} (database clock); Ctrl-C stops watching", style="dim")
    return Panel(Group(table, footer), title=title, title_align="left")
