"""The progress line: the count once, one ETA, from the recent rate rather than the average."""

from __future__ import annotations

from campaigner.cli.progress import RATE_WINDOW, ProgressReporter, Snapshot


async def _nothing() -> dict[str, object]:
    return {}


def snap(done: int, at: float) -> Snapshot:
    return Snapshot({"submitted": done, "pending": 1000 - done}, 1000, at)


def test_the_rate_follows_the_recent_pace_not_the_average_since_the_start() -> None:
    reporter = ProgressReporter(_nothing, 1000, "EUR")
    # 10 a second for a minute, then 1 a second for a minute.
    for second in range(0, 61, 5):
        reporter.remember(snap(10 * second, float(second)))
    for second in range(65, 121, 5):
        reporter.remember(snap(600 + (second - 60), float(second)))
    now = snap(660, 120.0)
    assert abs(reporter.rate(now) - 1.0) < 0.2  # the average since the start would say 5.5
    line = reporter.describe(now)
    assert line.startswith("660/1,000 done  sent 660") and "1.0 msg/s" in line
    assert "ETA 6min" in line  # 340 left at 1 a second
    assert line.count("ETA") == 1
    assert "done" not in reporter.describe(now, count=False)  # the bar shows the count itself


def test_no_eta_before_anything_moves() -> None:
    reporter = ProgressReporter(_nothing, 1000, "EUR")
    first = snap(0, 0.0)
    reporter.remember(first)
    assert "ETA -" in reporter.describe(first)
    later = snap(0, RATE_WINDOW)
    reporter.remember(later)
    assert "0.0 msg/s  ETA -" in reporter.describe(later)
