"""Sending windows in the recipient's local time, as the dispatcher applies them.

`windows_for(campaign, config)`: the campaign's `--quiet-hours` and the account's `[compliance]`
country table (campaigner/compliance/windows.py holds the rules: hours, days off, public
holidays, the strictest of a number's time zones). A job outside its window waits, without a
lease, until the window opens (the dispatcher puts it back with that delay).

`seconds_until_allowed` and `seconds_until_closed` keep the plain hours-only reading (one window,
every day) for callers that have only a campaign's hours.
"""

from __future__ import annotations

from datetime import datetime, time

from campaigner.compliance.windows import SendingWindows, inside, windows_from_settings, zones_for
from campaigner.config import Config
from campaigner.model.campaigns import Campaign

__all__ = ["inside", "seconds_until_allowed", "seconds_until_closed", "windows_for", "zones_for"]


def windows_for(campaign: Campaign, config: Config) -> SendingWindows:
    """The windows `campaign` sends in, under the account's compliance settings."""
    hours = None
    if campaign.quiet_start is not None and campaign.quiet_end is not None:
        hours = (campaign.quiet_start, campaign.quiet_end)
    return windows_from_settings(hours, config.compliance)


def seconds_until_allowed(e164: str, start: time, end: time, now: datetime | None = None) -> float | None:
    """0 when `e164` may be messaged now under [start, end) every day; else seconds until it may."""
    return SendingWindows.build((start, end), table=False).seconds_until_allowed(e164, now)


def seconds_until_closed(e164: str, start: time, end: time, now: datetime | None = None) -> float | None:
    """Seconds left in `e164`'s [start, end) window now; None when it has no known zone."""
    return SendingWindows.build((start, end), table=False).seconds_until_closed(e164, now)
