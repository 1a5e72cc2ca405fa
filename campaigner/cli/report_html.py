"""`report --format html`: one self-contained page that opens offline (inline CSS and SVG, no
script, no font, no image fetched), readable printed in black and white and on a phone.

The charts are `campaigner.observe.charts`' (the dashboard draws the same): sent and delivered per
minute, delivery latency percentiles, messages sent per country. Every user or provider text is
escaped.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from campaigner.cli.report_data import Report
from campaigner.observe.charts import Series, bar_chart, time_chart, timeline_series

_CSS = """
:root { color-scheme: light dark; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem 1.25rem;
       color: #1b1b1b; background: #fff; }
@media (prefers-color-scheme: dark) { body { color: #e8e8e8; background: #161616; } }
h1 { font-size: 1.5rem; margin: 0.2rem 0; } h2 { font-size: 1.1rem; margin: 1.6rem 0 0.5rem; }
.meta { margin: 0; opacity: 0.8; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: 0.6rem; }
.card { border: 1px solid currentColor; border-radius: 6px; padding: 0.5rem 0.7rem; }
.card b { display: block; font-size: 1.35rem; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid rgba(127,127,127,0.45); }
td.n, th.n { text-align: right; }
.chart { width: 100%; height: auto; max-width: 40rem; display: block; margin: 0.4rem 0; }
blockquote { margin: 0.4rem 0; padding: 0.4rem 0.8rem; border-left: 4px solid currentColor;
             white-space: pre-wrap; }
footer { margin-top: 2rem; font-size: 0.85rem; opacity: 0.75; }
"""


_NUMERIC = ' class="n"'


def _money(value: float, currency: str) -> str:
    return f"{value:,.2f} {escape(currency)}"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} s"


def _table(head: list[str], rows: list[list[Any]], numeric_from: int = 1) -> str:
    cells = "".join(
        f'<th{_NUMERIC if i >= numeric_from else ""} scope="col">{escape(h)}</th>' for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{_NUMERIC if i >= numeric_from else ''}>{escape(str(v))}</td>" for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _clicks_html(clicks: dict[str, Any] | None) -> str:
    """The short links' section: totals, click-through, per country, clicks per minute."""
    if not clicks:
        return ""
    rate = clicks["click_through_rate"]
    summary = _table(
        ["links", "clicks", "unique clickers", "repeats", "bots (not counted)", "delivered", "click-through"],
        [[
            f"{clicks['links']:,}", f"{clicks['clicks']:,}", f"{clicks['unique_clickers']:,}",
            f"{clicks['repeat_clicks']:,}", f"{clicks['bot_clicks']:,}", f"{clicks['delivered']:,}",
            "–" if rate is None else f"{rate:.1%}",
        ]],
        numeric_from=0,
    )  # fmt: skip
    countries = _table(
        ["country", "clicks", "unique clickers", "click-through"],
        [
            [c["country"] or "unknown", f"{c['clicks']:,}", f"{c['unique_clickers']:,}",
             "–" if c["click_through_rate"] is None else f"{c['click_through_rate']:.1%}"]
            for c in clicks["by_country"]
        ],
    )  # fmt: skip
    minutes = [(datetime.fromisoformat(p["minute"]), p) for p in clicks["timeline"]]
    over_time = time_chart(
        [
            Series("clicks", [(m, float(p["clicks"])) for m, p in minutes]),
            Series("first clicks", [(m, float(p["first_clicks"])) for m, p in minutes]),
        ],
        title="Clicks per minute (people; first clicks of a link)",
        chart_id="clicks",
    )
    return f"<h2>Short links</h2>{summary}{over_time}{countries}"


def render_html(report: Report) -> str:
    """The whole page, as one string."""
    data = report.to_json()
    campaign, totals, cost, latency = data["campaign"], data["totals"], data["cost"], data["latency_seconds"]
    currency = cost["currency"]
    ratio = data["delivery_ratio"]
    cards = [
        ("recipients", f"{totals['recipients']:,}"),
        ("sent", f"{totals['sent']:,}"),
        ("delivered", f"{totals['delivered']:,}"),
        ("undelivered", f"{totals['undelivered']:,}"),
        ("rejected", f"{totals['rejected']:,}"),
        ("delivery rate", "–" if ratio is None else f"{ratio:.1%}"),
    ]
    hours = campaign["quiet_hours"]
    meta = [
        f"state <b>{escape(str(campaign['state']))}</b>"
        + (f" ({escape(campaign['reason'])})" if campaign["reason"] else ""),
        f"sender {escape(campaign['sender'] or 'the account default')}",
        f"account {escape(campaign['provider_account'])}",
        f"region {escape(campaign['region'] or 'none')}",
        f"quiet hours {escape(hours['start'])}–{escape(hours['end'])}" if hours else "no quiet hours",
    ]
    timeline = time_chart(
        timeline_series(
            report.facts.timeline,
            {"submitted": "sent", "delivered": "delivered", "undelivered": "undelivered"},
        ),
        title="Messages per minute: sent (submitted), delivered, undelivered",
        chart_id="timeline",
    )
    latency_chart = bar_chart(
        [(name, latency[name]) for name in ("p50", "p95", "p99") if latency[name] is not None],
        title=f"Delivery latency of {latency['delivered']:,} delivered messages",
        unit=" s",
        chart_id="latency",
    )
    countries = data["countries"]
    country_chart = bar_chart(
        [(c["country"] or "unknown", float(c["sent"])) for c in countries[:12]],
        title="Messages sent per country",
        chart_id="countries",
    )
    country_table = _table(
        ["country", "sent", "delivered", "undelivered", "rejected", f"cost ({currency})"],
        [
            [c["country"] or "unknown", f"{c['sent']:,}", f"{c['delivered']:,}", f"{c['undelivered']:,}",
             f"{c['rejected']:,}", f"{c['cost']:,.2f}"]
            for c in countries
        ],
    )  # fmt: skip
    errors = data["errors"]
    error_table = (
        _table(
            ["code", "state", "message", "jobs"],
            [
                [e["code"] or e["error_class"] or "", e["state"], e["message"] or "", f"{e['jobs']:,}"]
                for e in errors
            ],
            numeric_from=3,
        )
        if errors
        else "<p>No errors.</p>"
    )
    cost_rows = [
        ["estimated before sending (the preview)", _money(cost["estimated"], currency)],
        ["estimated for the messages sent", _money(cost["estimated_of_sent"], currency)],
        [
            f"reported by the provider ({cost['reported_messages']:,} messages priced)",
            _money(cost["reported"], currency),
        ],
        ["estimated for those same messages", _money(cost["estimated_of_reported"], currency)],
        ["messages the provider counted more segments for", f"{cost['more_segments_than_estimated']:,}"],
    ]
    cost_table = (
        "<table><tbody>"
        + "".join(f'<tr><td>{escape(a)}</td><td class="n">{b}</td></tr>' for a, b in cost_rows)
        + "</tbody></table>"
    )
    latency_table = _table(
        ["delivered", "p50", "p95", "p99"],
        [[f"{latency['delivered']:,}", *(_seconds(latency[p]) for p in ("p50", "p95", "p99"))]],
        numeric_from=0,
    )
    clicks_html = _clicks_html(data["clicks"])
    card_html = "".join(f'<div class="card">{escape(k)}<b>{v}</b></div>' for k, v in cards)
    when = " · ".join(
        f"{label} {escape(str(campaign[key]))[:19].replace('T', ' ')}"
        for label, key in (("created", "created_at"), ("started", "started_at"), ("finished", "finished_at"))
        if campaign[key]
    )
    title = f"Campaign {campaign['id']}: {campaign['name']}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}</style></head>
<body>
<header><h1>{escape(title)}</h1>
<p class="meta">{" · ".join(meta)}</p><p class="meta">{when} (UTC)</p></header>
<h2>Totals</h2><div class="cards">{card_html}</div>
<h2>Over time</h2>{timeline}
<h2>Cost</h2>{cost_table}
<h2>Delivery latency</h2>{latency_table}{latency_chart}
<h2>Per country</h2>{country_chart}{country_table}
<h2>Errors</h2>{error_table}
{clicks_html}
<h2>Message</h2><blockquote>{escape(campaign["message"])}</blockquote>
<footer>campaigner report, as of {escape(report.facts.live.as_of.isoformat(timespec="seconds"))}.
Costs are estimates from the configured prices unless reported by the provider.</footer>
</body></html>
"""
