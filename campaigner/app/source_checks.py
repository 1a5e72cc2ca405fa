"""A new campaign's options checked one way, for the CLI (`create`, `send`, `preview`) and the HTTP API.

Each check raises a UserError naming the option or field as the caller calls it (`--send-at` on the
command line, `send_at` in the API), with the same words after that name.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

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
