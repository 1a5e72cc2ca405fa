"""The pure parts of campaigner.observe: percentiles from a histogram, wait reasons, SVG charts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, time, timedelta

from campaigner.model.observe import LatencyBucket
from campaigner.model.states import CampaignState
from campaigner.observe.charts import Series, bar_chart, time_chart
from campaigner.observe.latency import percentile, percentiles
from campaigner.observe.wait import wait_reason

BOUNDS = (0, 1, 2, 5, 10)
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_percentiles_interpolate_within_the_bucket() -> None:
    # 100 jobs: 50 in [1, 2), 50 in [2, 5).
    buckets = [LatencyBucket(2, 50), LatencyBucket(3, 50)]
    assert percentile(buckets, BOUNDS, 50) == 2.0
    assert percentile(buckets, BOUNDS, 99) == 4.9
    assert percentiles([], BOUNDS) == {"p50": None, "p95": None, "p99": None}
    # The open-ended last bucket reports its lower bound; below 0 reads as 0.
    assert percentile([LatencyBucket(5, 1)], BOUNDS, 50) == 10.0
    assert percentile([LatencyBucket(0, 1)], BOUNDS, 50) == 0.0


def _reason(**kw: object) -> object:
    args: dict[str, object] = {
        "campaign_id": 7,
        "state": CampaignState.RUNNING,
        "reason": None,
        "now": NOW,
        "send_at": None,
        "quiet_hours": None,
        "next_due": None,
        "booked_until": None,
        "live_workers": 1,
        "left": 10,
    }
    args.update(kw)
    return wait_reason(**args)  # type: ignore[arg-type]


def test_wait_reasons_in_the_order_to_act_on() -> None:
    assert _reason() is None
    assert _reason(left=0) is None
    no_worker = _reason(live_workers=0, next_due=NOW + timedelta(hours=1), quiet_hours=(time(9), time(17)))
    assert no_worker.code == "no_worker"  # type: ignore[attr-defined]
    assert "`campaigner run 7`" in no_worker.text  # type: ignore[attr-defined]
    quiet = _reason(next_due=NOW + timedelta(hours=1), quiet_hours=(time(9), time(17)))
    assert quiet.code == "quiet_hours"  # type: ignore[attr-defined]
    assert _reason(next_due=NOW + timedelta(minutes=1)).code == "retry_backoff"  # type: ignore[attr-defined]
    assert _reason(booked_until=NOW + timedelta(seconds=30)).code == "rate_schedule"  # type: ignore[attr-defined]
    assert _reason(booked_until=NOW + timedelta(seconds=1)) is None  # ordinary pacing
    assert _reason(state=CampaignState.PAUSED, reason="funds").text == "paused: funds"  # type: ignore[attr-defined]
    scheduled = _reason(state=CampaignState.SCHEDULED, send_at=NOW)
    assert scheduled.code == "scheduled" and scheduled.until == NOW  # type: ignore[attr-defined]
    assert _reason(state=CampaignState.COMPLETED) is None


def test_time_chart_is_valid_svg_that_tells_series_apart_without_colour() -> None:
    points = [(NOW + timedelta(minutes=i), float(i * 10)) for i in range(5)]
    svg = time_chart([Series("sent", points), Series("delivered <b>", points[:3])], title="Per minute")
    root = ET.fromstring(svg)  # well-formed, labels escaped
    assert root.get("role") == "img" and root.get("aria-label") == "Per minute"
    assert "delivered &lt;b&gt;" in svg
    assert 'stroke-dasharray="6 3"' in svg  # the second series is dashed, the first solid
    assert "<pattern" in svg and "url(#t-hatch)" in svg  # a hatched area, not a colour fill
    assert "no data yet" in time_chart([], title="Empty")


def test_bar_chart_writes_each_value_and_the_limit() -> None:
    svg = bar_chart([("rate now", 4.0)], title="Rate", unit="/s", limit=10)
    ET.fromstring(svg)
    assert ">4/s<" in svg and "limit 10/s" in svg
