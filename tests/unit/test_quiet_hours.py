"""Sending windows in the recipient's local time, most restrictive across a number's zones."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from campaigner.dispatch.quiet_hours import inside, seconds_until_allowed, seconds_until_closed, zones_for

NINE, NINE_PM = time(9), time(21)


def test_inside_plain_and_wrapping_windows() -> None:
    assert inside(time(9), NINE, NINE_PM) and not inside(time(21), NINE, NINE_PM)
    assert inside(time(23), NINE_PM, NINE) and inside(time(3), NINE_PM, NINE)
    assert not inside(time(12), NINE_PM, NINE)


def test_dutch_number_waits_for_nine_amsterdam_time() -> None:
    # 07:00 UTC on a November day is 08:00 in Amsterdam: one hour to wait.
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    assert seconds_until_allowed("+31612345678", NINE, NINE_PM, now) == pytest.approx(3600)
    assert seconds_until_allowed("+31612345678", NINE, NINE_PM, now + timedelta(hours=4)) == 0


def test_evening_waits_until_tomorrow_morning() -> None:
    now = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # 22:30 in Amsterdam
    assert seconds_until_allowed("+31612345678", NINE, NINE_PM, now) == pytest.approx(10.5 * 3600)


def test_several_zones_take_the_most_restrictive_reading() -> None:
    zones = zones_for("+79161234567")  # Russian mobiles: from Europe/Bucharest to Asia/Anadyr
    assert len(zones) > 5
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    wait = seconds_until_allowed("+79161234567", NINE, NINE_PM, now)
    assert wait is not None and wait > 0
    moment = now + timedelta(seconds=wait)
    assert all(inside(moment.astimezone(zone).time(), NINE, NINE_PM) for zone in zones)


def test_window_narrower_than_the_zones_spread_never_opens() -> None:
    assert seconds_until_allowed("+79161234567", time(9), time(10)) is None


def test_number_with_no_known_zone_is_not_held_back() -> None:
    assert zones_for("+15551234567") == ()
    assert seconds_until_allowed("+15551234567", NINE, NINE_PM) == 0


def test_zone_objects_are_real() -> None:
    assert zones_for("+12125551234") == (ZoneInfo("America/New_York"),)


def test_the_time_left_in_a_window_is_the_validity_a_provider_is_given() -> None:
    # 18:30 in Amsterdam, window 09:00-21:00: 2.5 h left, so a message stuck in the provider's
    # queue is not delivered after 21:00 (Clickatell's validityPeriod).
    now = datetime(2026, 6, 1, 18, 30, tzinfo=ZoneInfo("Europe/Amsterdam")).astimezone(UTC)
    assert seconds_until_closed("+31612345678", NINE, NINE_PM, now) == pytest.approx(2.5 * 3600)
    # A Russian mobile spans many zones: the one whose window closes first decides.
    noon = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    closings = []
    for zone in zones_for("+79161234567"):
        local = noon.astimezone(zone)
        closing = datetime.combine(local.date(), NINE_PM, tzinfo=zone)
        if closing <= local:
            closing += timedelta(days=1)
        closings.append((closing - noon).total_seconds())
    assert seconds_until_closed("+79161234567", NINE, NINE_PM, noon) == pytest.approx(min(closings))
    assert seconds_until_closed("+31612345678", NINE, NINE, now) is None  # a window that never closes
