"""Why a campaign is not sending right now, in words a user can act on.

One reason at a time, the one to act on first: a running campaign that no process carries says
so before anything else (its other reasons would never end), then the quiet hours or a retry
backoff (no job is due), then the account's shared rate schedule (due jobs wait for their turn
while it sends at under half the account's ceiling: other senders, or a 429's Retry-After).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from campaigner.model.states import CampaignState

# The shared schedule booked further ahead than this is worth saying: a dispatcher's own pacing
# books a second or so ahead all the time.
BOOKED_AHEAD_NOTE = 3.0
# A pending job due within this is due now (claims run every poll interval).
DUE_SLACK = 1.0


@dataclass(frozen=True, slots=True)
class WaitReason:
    """Why nothing sends: `code` for programs (stable), `text` for people, `until` when known."""

    code: str  # draft, scheduled, paused, no_worker, quiet_hours, retry_backoff, rate_schedule
    text: str
    until: datetime | None = None


def no_worker_text(campaign_id: int) -> str:
    """The one sentence every view shows when nothing carries a campaign."""
    return f"no live worker: start `campaigner daemon` or `campaigner run {campaign_id}`"


def wait_reason(
    *,
    campaign_id: int,
    state: CampaignState,
    reason: str | None,
    now: datetime,
    send_at: datetime | None,
    quiet_hours: tuple[time, time] | None,
    next_due: datetime | None,
    country_windows: bool = False,
    booked_until: datetime | None,
    live_workers: int,
    left: int,
    rate: float = 0.0,
    ceiling: float | None = None,
) -> WaitReason | None:
    """The reason a campaign in `state` is not sending now, or None when it is (or has ended)."""
    if state == CampaignState.DRAFT:
        return WaitReason("draft", f"draft: not started (resume it, or `campaigner run {campaign_id}`)")
    if state == CampaignState.SCHEDULED:
        when = send_at.isoformat(timespec="seconds") if send_at else "its send time"
        return WaitReason("scheduled", f"scheduled: starts at {when}", send_at)
    if state == CampaignState.PAUSED:
        return WaitReason("paused", f"paused: {reason or 'no reason given'}")
    if state != CampaignState.RUNNING or left <= 0:
        return None
    if live_workers == 0:
        return WaitReason("no_worker", no_worker_text(campaign_id))
    if next_due is not None and (next_due - now).total_seconds() > DUE_SLACK:
        at = next_due.isoformat(timespec="seconds")
        if quiet_hours is not None:
            start, end = quiet_hours
            return WaitReason(
                "quiet_hours",
                f"outside the sending window {start:%H:%M}-{end:%H:%M} (recipients' time): next message "
                f"due at {at}",
                next_due,
            )
        if country_windows:
            return WaitReason(
                "quiet_hours",
                f"outside the recipients' country sending windows (or retrying): next message due at {at}",
                next_due,
            )
        return WaitReason(
            "retry_backoff", f"waiting to retry after errors: next message due at {at}", next_due
        )
    if booked_until is not None and _held_back(rate, ceiling):
        ahead = (booked_until - now).total_seconds()
        if ahead > BOOKED_AHEAD_NOTE:
            return WaitReason(
                "rate_schedule",
                f"the account's shared rate schedule is booked {ahead:.0f} s ahead (other senders on the "
                "account, or a 429's Retry-After)",
                booked_until,
            )
    return None


def _held_back(rate: float, ceiling: float | None) -> bool:
    """Sending at well under the account's ceiling (or not at all): the schedule is holding it back.
    At the ceiling, a schedule booked ahead is only the dispatcher's own pacing."""
    if ceiling is None:
        return rate == 0
    return rate < ceiling / 2
