"""Small SVG charts drawn on the server: no JavaScript library, no network, readable without colour.

    svg = time_chart([Series("sent", points), Series("delivered", points)], title="Per minute")
    svg = bar_chart([("p50", 3.2), ("p95", 11.0)], title="Delivery latency", unit="s")

Every series differs by more than its colour: its own dash pattern and marker shape, a hatched
area under the first, and a legend that names each beside its sample line; bars carry their value
as text. The SVG is a string for inline use in HTML (or a standalone file); every label is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from campaigner.model.observe import TimelinePoint

# One look per series, in order: stroke dash pattern and marker (drawn as an SVG path).
_DASHES = ("", "6 3", "2 3", "8 3 2 3")
_MARKERS = (
    "M-3,-3h6v6h-6z",  # square
    "M0,-4L4,3H-4z",  # triangle
    "M-3,0a3,3 0 1,0 6,0a3,3 0 1,0 -6,0",  # circle
    "M-4,0L0,-4L4,0L0,4z",  # diamond
)
_PATTERN = (
    '<defs><pattern id="{id}" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="currentColor" '
    'stroke-width="1.5" opacity="0.45"/></pattern></defs>'
)


@dataclass(frozen=True, slots=True)
class Series:
    """A named line over time."""

    name: str
    points: Sequence[tuple[datetime, float]]


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _frame(width: int, height: int, title: str, body: str) -> str:
    label = escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{label}" class="chart" preserveAspectRatio="xMidYMid meet" '
        f'style="font:12px sans-serif;color:inherit" fill="currentColor">'
        f"<title>{label}</title>{body}</svg>"
    )


def time_chart(
    series: Sequence[Series], *, title: str, width: int = 640, height: int = 240, chart_id: str = "t"
) -> str:
    """A line chart of `series` over time (the first one also as a hatched area), with a legend."""
    left, right, top, bottom = 44, 12, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    points = [p for s in series for p in s.points]
    if not points:
        empty = f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data yet</text>'
        return _frame(width, height, title, empty)
    t0 = min(t for t, _ in points).timestamp()
    t1 = max(t for t, _ in points).timestamp()
    span = max(t1 - t0, 60.0)
    top_value = max(max(v for _, v in points), 1.0)

    def x(t: datetime) -> float:
        return round(left + (t.timestamp() - t0) / span * plot_w, 1)

    def y(v: float) -> float:
        return round(top + plot_h - v / top_value * plot_h, 1)

    parts = [_PATTERN.format(id=f"{chart_id}-hatch")]
    parts.append(f'<text x="{left}" y="16" font-weight="bold">{escape(title)}</text>')
    # Axes with three value ticks and a start and end time.
    base = top + plot_h
    parts.append(
        f'<path d="M{left},{top}V{base}H{left + plot_w}" fill="none" stroke="currentColor" stroke-width="1"/>'
    )
    for fraction in (0.5, 1.0):
        v = top_value * fraction
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v)}" y2="{y(v)}" stroke="currentColor" '
            f'stroke-width="0.5" stroke-dasharray="1 4"/>'
            f'<text x="{left - 4}" y="{y(v) + 4}" text-anchor="end">{_fmt(v)}</text>'
        )
    parts.append(f'<text x="{left - 4}" y="{base + 4}" text-anchor="end">0</text>')
    start = datetime.fromtimestamp(t0, tz=points[0][0].tzinfo)
    end = datetime.fromtimestamp(t0 + span, tz=points[0][0].tzinfo)
    parts.append(f'<text x="{left}" y="{base + 16}">{start:%H:%M}</text>')
    parts.append(f'<text x="{left + plot_w}" y="{base + 16}" text-anchor="end">{end:%H:%M}</text>')
    for index, s in enumerate(series):
        if not s.points:
            continue
        ordered = sorted(s.points)
        line = " ".join(f"{x(t)},{y(v)}" for t, v in ordered)
        if index == 0:
            area = f"{x(ordered[0][0])},{base} {line} {x(ordered[-1][0])},{base}"
            parts.append(f'<polygon points="{area}" fill="url(#{chart_id}-hatch)" stroke="none"/>')
        dash = _DASHES[index % len(_DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="currentColor" stroke-width="2"{dash_attr}>'
            f"<title>{escape(s.name)}</title></polyline>"
        )
        marker = _MARKERS[index % len(_MARKERS)]
        step = max(1, len(ordered) // 12)  # a marker every few points keeps dense lines legible
        for t, v in ordered[::step]:
            parts.append(f'<path d="{marker}" transform="translate({x(t)},{y(v)})"/>')
    # Legend: a sample of each line with its marker, and its name.
    lx = left
    for index, s in enumerate(series):
        dash = _DASHES[index % len(_DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        ly = height - 6
        parts.append(
            f'<line x1="{lx}" x2="{lx + 22}" y1="{ly - 4}" y2="{ly - 4}" stroke="currentColor" '
            f'stroke-width="2"{dash_attr}/>'
            f'<path d="{_MARKERS[index % len(_MARKERS)]}" transform="translate({lx + 11},{ly - 4})"/>'
            f'<text x="{lx + 26}" y="{ly}">{escape(s.name)}</text>'
        )
        lx += 32 + 8 * len(s.name) + 12
    return _frame(width, height, title, "".join(parts))


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    width: int = 640,
    chart_id: str = "b",
    limit: float | None = None,
) -> str:
    """Horizontal bars, each labelled with its name and value; `limit` draws a dashed reference line."""
    row, top, label_w = 24, 28, 120
    height = top + row * max(len(bars), 1) + 10
    plot_w = width - label_w - 80
    parts = [_PATTERN.format(id=f"{chart_id}-hatch")]
    parts.append(f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>')
    if not bars:
        parts.append(f'<text x="0" y="{top + 16}">no data yet</text>')
        return _frame(width, height, title, "".join(parts))
    most = max([v for _, v in bars] + [limit or 0, 1e-9])
    for i, (name, value) in enumerate(bars):
        y = top + i * row
        w = round(max(value, 0) / most * plot_w, 1)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row - 8}" fill="url(#{chart_id}-hatch)" '
            f'stroke="currentColor" stroke-width="1"/>'
            f'<text x="{label_w + w + 6}" y="{y + 15}">{escape(_fmt(value) + unit)}</text>'
        )
    if limit is not None:
        lx = round(label_w + limit / most * plot_w, 1)
        parts.append(
            f'<line x1="{lx}" x2="{lx}" y1="{top}" y2="{height - 6}" stroke="currentColor" '
            f'stroke-width="1.5" stroke-dasharray="4 3"/>'
            f'<text x="{lx + 3}" y="{height - 2}" font-size="10">limit {escape(_fmt(limit) + unit)}</text>'
        )
    return _frame(width, height, title, "".join(parts))


def timeline_series(points: Sequence[TimelinePoint], states: Sequence[str]) -> list[Series]:
    """One series a state (in `states` order): the jobs that arrived in it each minute."""
    by_state: dict[str, list[tuple[datetime, float]]] = {s: [] for s in states}
    for p in points:
        if p.state in by_state:
            by_state[p.state].append((p.minute, float(p.jobs)))
    return [Series(name, by_state[name]) for name in states]
