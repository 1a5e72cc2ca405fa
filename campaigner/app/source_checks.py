"""A new campaign's options checked one way, for the CLI (`create`, `send`, `preview`) and the HTTP API.

Each check raises a UserError naming the option or field as the caller calls it (`--send-at` on the
command line, `send_at` in the API), with the same words after that name.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from campaigner.config import parse_duration
from campaigner.errors import InputFileError, UserError

# A send time this little in the past (typed a moment ago) still means "now".
SEND_AT_PAST_GRACE = timedelta(minutes=5)


def parse_send_at(value: str | None, name: str = "--send-at") -> datetime | None:
    """ISO 8601 → aware datetime (no offset: local time)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"{name}: {value!r} is not an ISO 8601 time (e.g. 2026-05-01T09:00+02:00)") from None
    try:
        # In UTC, as it is stored: a time near year 1 or 9999 may not exist there (9999-12-31T23:00
        # at -05:00 is in year 10000), which Python and PostgreSQL would each refuse their own way.
        parsed = parsed if parsed.tzinfo else parsed.astimezone()
        parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise UserError(f"{name}: {value!r} is out of range (years 1 to 9999, in UTC)") from None
    if parsed < datetime.now(UTC) - SEND_AT_PAST_GRACE:
        # Most likely a typo (a year, a month): a scheduled campaign would start at once.
        raise UserError(f"{name}: {value!r} is in the past; leave it out to send now")
    return parsed


def parse_quiet_hours(value: str | None, name: str = "--quiet-hours") -> tuple[time | None, time | None]:
    """'09:00-21:00' → (09:00, 21:00): the local-time window in which recipients may be messaged."""
    if value is None:
        return None, None
    try:
        start_text, end_text = value.split("-")
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError:
        raise UserError(f"{name}: {value!r} is not HH:MM-HH:MM") from None
    if start == end:
        raise UserError(f"{name}: {value!r} is an empty window: nothing could ever be sent")
    return start, end


def parse_validity(
    valid_for: str | None,
    valid_until: str | None,
    send_at: datetime | None = None,
    names: tuple[str, str] = ("--valid-for", "--valid-until"),
) -> tuple[timedelta | None, datetime | None]:
    """--valid-for DURATION ('30s', '90m', '24h', '1h30m') or --valid-until TIME (ISO 8601, in the
    future and after the send time): how long a campaign's messages may still be sent."""
    if valid_for is not None and valid_until is not None:
        raise UserError(f"give at most one of {names[0]} and {names[1]}")
    if valid_for is not None:
        try:
            return timedelta(seconds=parse_duration(valid_for, names[0])), None
        except ValueError as exc:
            raise UserError(str(exc)) from None
    if valid_until is None:
        return None, None
    until = parse_send_at(valid_until, names[1])
    assert until is not None
    if until <= datetime.now(UTC):
        raise UserError(f"{names[1]}: {valid_until!r} has passed: nothing could be sent")
    if send_at is not None and until <= send_at:
        raise UserError(f"{names[1]}: {valid_until!r} is not after the send time: nothing could be sent")
    return None, until


def checked_message(text: str, source: str) -> str:
    """The message text, refused when PostgreSQL could not store it or there is nothing to send."""
    if "\x00" in text:
        # PostgreSQL text cannot hold a NUL; say where it is rather than let the database refuse it.
        before = text[: text.index("\x00")]
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        raise InputFileError(f"{source}: line {line}, column {column}: the message holds a NUL character")
    if not text.strip():
        raise UserError(f"{source}: the message is empty")
    return text
