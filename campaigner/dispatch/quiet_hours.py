"""Sending windows in the recipient's local time (a campaign's `--quiet-hours 09:00-21:00`).

A number's time zones come from `phonenumbers.timezone`; a number with several (a US number whose
area code spans two zones, or a country-wide range) is only messaged when the time is inside the
window in every one of them: the most restrictive reading. A job outside its window waits, without a
lease, until the window opens (the dispatcher puts it back with that delay).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

UNKNOWN_ZONE = "Etc/Unknown"
# Look this far ahead for a moment that is inside the window in every zone of a number.
HORIZON = timedelta(hours=48)


@lru_cache(maxsize=65536)
def zones_for(e164: str) -> tuple[ZoneInfo, ...]:
    """The time zones of a number; empty when phonenumbers does not know them."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = []
    for name in phone_timezone.time_zones_for_number(number):
        if name == UNKNOWN_ZONE:
            continue
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return tuple(zones)


def inside(local: time, start: time, end: time) -> bool:
    """Whether `local` lies in [start, end); a window past midnight (21:00-09:00) wraps."""
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def _allowed(moment: datetime, zones: tuple[ZoneInfo, ...], start: time, end: time) -> bool:
    return all(inside(moment.astimezone(zone).time().replace(tzinfo=None), start, end) for zone in zones)


def _next_opening(moment: datetime, zone: ZoneInfo, start: time) -> datetime:
    local = moment.astimezone(zone)
    opening = datetime.combine(local.date(), start, tzinfo=zone)
    if opening <= local:
        opening = datetime.combine(local.date() + timedelta(days=1), start, tzinfo=zone)
    return opening.astimezone(UTC)


def seconds_until_allowed(e164: str, start: time, end: time, now: datetime | None = None) -> float | None:
    """0 when `e164` may be messaged now; else seconds until it may; None if it never may in 48 h.

    A number with no known zone is not held back (there is no local time to respect).
    """
    now = now or datetime.now(UTC)
    zones = zones_for(e164)
    if not zones or _allowed(now, zones, start, end):
        return 0.0
    # The first moment inside every zone's window is one of the zones' next openings.
    candidates = sorted({_next_opening(now, zone, start) for zone in zones})
    for _ in range(3):  # openings within the horizon: today's or tomorrow's, per zone
        for candidate in candidates:
            if candidate - now <= HORIZON and _allowed(candidate, zones, start, end):
                return (candidate - now).total_seconds()
        candidates = sorted({_next_opening(c, zone, start) for c in candidates for zone in zones})
    return None


def seconds_until_closed(e164: str, start: time, end: time, now: datetime | None = None) -> float | None:
    """Seconds left in `e164`'s window now: until the first of its zones leaves [start, end) (the
    strictest reading); None when it has no known zone or the window never closes (00:00-00:00)."""
    now = now or datetime.now(UTC)
    zones = zones_for(e164)
    if not zones or start == end:
        return None
    left = []
    for zone in zones:
        local = now.astimezone(zone)
        closing = datetime.combine(local.date(), end, tzinfo=zone)
        if closing <= local:
            closing = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
        left.append((closing.astimezone(UTC) - now).total_seconds())
    return max(0.0, min(left))
