"""The sandbox account: message store, wallet, rate-limit windows and the figures tests assert on.

Everything a route does to the account goes through `SandboxState`, which every route reaches as
`request.app[STATE]` and tests reach as `sb.state`. Per-request work is O(1): messages are kept in
id order (ids are consecutive integers) with indexes by recipient and by Clickatell's apiMessageId
(Clickatell offers no lookup by clientMessageId, so neither does the sandbox); only the list route
walks messages, and then only those of one recipient when it is filtered by `to`, or those after
`since` (found by bisection).
"""

from __future__ import annotations

import bisect
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from campaigner.sandbox.ratelimit import RollingWindow, merge_stats
from campaigner.sandbox.settings import SandboxSettings
from campaigner.text.segments import count_segments


@dataclass(slots=True)
class Message:
    """One message in the store, inbound or outbound, from either API."""

    id: int
    api_message_id: str  # Clickatell's 32-hex id
    api: str  # "cliqtel" | "portal" | "clickatell" | "inbound"
    direction: str  # "outbound" | "inbound"
    from_: str
    to: str  # E.164
    body: str
    segments: int
    cost: float
    number_id: int | None
    created_at: float  # Unix time
    status: str = "queued"
    updated_at: float = 0.0
    status_callback_url: str | None = None
    client_message_id: str | None = None
    error: str | None = None
    # Clickatell only: the `callback` bitmask, `mo` (sent for two-way replies), when a scheduled
    # message leaves the schedule, its validity, and when it expires undelivered (Unix time).
    callback: int = 0
    mo: bool = False
    scheduled_at: float | None = None
    validity_seconds: float | None = None
    expires_at: float | None = None


def iso(ts: float, *, micro: bool = False) -> str:
    """Unix time as ISO 8601 in UTC: "2026-04-03T10:15:30+00:00", or with microseconds and "Z"."""
    moment = datetime.fromtimestamp(ts, UTC)
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.isoformat(timespec="seconds")


class MessageStore:
    """Messages by id, with indexes by recipient and apiMessageId."""

    def __init__(self) -> None:
        self._next_id = 1
        self.messages: list[Message] = []  # in id (and creation-time) order
        self._created: list[float] = []  # created_at of `messages`, for bisection on `since`
        self._first_id = 1  # id of messages[0]
        self.by_to: dict[str, list[Message]] = {}
        self.by_api_id: dict[str, Message] = {}

    def clear(self) -> None:
        """Forget every message; ids keep counting up so an old id never names a new message."""
        self.messages.clear()
        self._created.clear()
        self._first_id = self._next_id
        self.by_to.clear()
        self.by_api_id.clear()

    def add(self, **fields: Any) -> Message:
        """Store a new message with the next id and return it."""
        now = time.time()
        if self._created and now < self._created[-1]:
            now = self._created[-1]  # keep creation times sorted even if the clock steps back
        message = Message(
            id=self._next_id, api_message_id=uuid.uuid4().hex, created_at=now, updated_at=now, **fields
        )
        self._next_id += 1
        self.messages.append(message)
        self._created.append(now)
        self.by_to.setdefault(message.to, []).append(message)
        self.by_api_id[message.api_message_id] = message
        return message

    def get(self, message_id: int) -> Message | None:
        """The message with integer id `message_id`, or None."""
        index = message_id - self._first_id
        if 0 <= index < len(self.messages):
            return self.messages[index]
        return None

    def candidates(self, to: str | None, since: float | None) -> list[Message]:
        """The smallest slice of the store that can hold the messages to `to` created at/after `since`."""
        if to is not None:
            return self.by_to.get(to, [])
        if since is not None:
            return self.messages[bisect.bisect_left(self._created, since) :]
        return self.messages

    def __len__(self) -> int:
        return len(self.messages)


@dataclass(slots=True)
class Stats:
    """Counters for `GET /_sandbox/stats`: what was accepted, what was refused and why."""

    requests: int = 0
    accepted_messages: int = 0
    accepted_segments: int = 0
    per_recipient: Counter[str] = field(default_factory=Counter)
    rejections: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    callbacks_sent: int = 0
    callbacks_failed: int = 0
    inbound_sent: int = 0


class SandboxState:
    """The account behind every route: settings, store, wallet, windows, RNG and stats."""

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self.store = MessageStore()
        self.balance = self.settings.balance
        self.credits = self.settings.clickatell_credits
        self.stats = Stats()
        self.rng = random.Random(self.settings.seed)
        self._request_windows: dict[str, RollingWindow] = {}
        self.message_window = RollingWindow(
            self.settings.messages_per_second,
            self.settings.message_window,
            enforce=self.settings.enforce_limits,
        )

    # ---- settings -------------------------------------------------------------------------------

    def configure(self, changes: dict[str, Any]) -> list[str]:
        """Apply settings changes at runtime (limits, faults, balance, ...); returns the names changed."""
        changed = self.settings.update(changes)
        s = self.settings
        if "balance" in changed:
            self.balance = s.balance
        if "clickatell_credits" in changed:
            self.credits = s.clickatell_credits
        if "seed" in changed:
            self.rng.seed(s.seed)
        for window in self._request_windows.values():
            window.reconfigure(s.requests_per_minute, s.request_window, s.enforce_limits)
        self.message_window.reconfigure(s.messages_per_second, s.message_window, s.enforce_limits)
        return changed

    def reset(self) -> None:
        """Empty the store, refill the wallet from settings, zero stats and windows."""
        self.store.clear()
        self.balance = self.settings.balance
        self.credits = self.settings.clickatell_credits
        self.stats = Stats()
        self.rng.seed(self.settings.seed)
        self._request_windows.clear()
        s = self.settings
        self.message_window = RollingWindow(s.messages_per_second, s.message_window, enforce=s.enforce_limits)

    # ---- limits ---------------------------------------------------------------------------------

    def request_window(self, key: str) -> RollingWindow:
        """The per-key requests-per-minute window of `key`."""
        window = self._request_windows.get(key)
        if window is None:
            s = self.settings
            window = RollingWindow(s.requests_per_minute, s.request_window, enforce=s.enforce_limits)
            self._request_windows[key] = window
        return window

    # ---- money ----------------------------------------------------------------------------------

    def segments_of(self, body: str) -> int:
        """Segments `body` is billed as (GSM-7 160/153, UCS-2 70/67)."""
        return count_segments(body).segments

    def can_afford(self, segments: int) -> bool:
        """Whether the wallet covers `segments` more segments."""
        return self.balance + 1e-9 >= segments * self.settings.price_per_segment

    def debit(self, segments: int) -> float:
        """Take the price of `segments` from the wallet; returns the cost."""
        cost = round(segments * self.settings.price_per_segment, 6)
        self.balance = round(self.balance - cost, 6)
        return cost

    def credits_per_part(self, msisdn: str) -> float:
        """Clickatell credits one part to `msisdn` costs: the longest matching prefix of the table."""
        table = self.settings.clickatell_credits_per_part
        for length in range(min(len(msisdn), 8), 0, -1):
            price = table.get(msisdn[:length])
            if price is not None:
                return price
        return self.settings.clickatell_default_credits_per_part

    def debit_credits(self, amount: float) -> float:
        """Take `amount` Clickatell credits; returns it rounded as charged."""
        charge = round(amount, 6)
        self.credits = round(self.credits - charge, 6)
        return charge

    # ---- accounting -----------------------------------------------------------------------------

    def accepted(self, message: Message) -> None:
        """Count a message the sandbox took (and debited)."""
        stats = self.stats
        stats.accepted_messages += 1
        stats.accepted_segments += message.segments
        stats.per_recipient[message.to] += 1

    def reject(self, reason: str, amount: int = 1) -> None:
        """Count a refused request (or message) under `reason`, e.g. "429_requests", "402"."""
        self.stats.rejections[reason] += amount

    def snapshot(self, *, per_recipient: bool = False) -> dict[str, Any]:
        """The figures of `GET /_sandbox/stats`."""
        s = self.settings
        stats = self.stats
        duplicates = {to: n for to, n in stats.per_recipient.items() if n > 1}
        out: dict[str, Any] = {
            "requests": stats.requests,
            "accepted_messages": stats.accepted_messages,
            "accepted_segments": stats.accepted_segments,
            "recipients": len(stats.per_recipient),
            "duplicates": duplicates,
            "rejections": dict(stats.rejections),
            "rejections_total": sum(stats.rejections.values()),
            "faults": dict(stats.faults),
            "rate_limits": {
                "requests": merge_stats(
                    list(self._request_windows.values()),
                    s.requests_per_minute,
                    s.request_window,
                    s.enforce_limits,
                ),
                "messages": self.message_window.stats(),
            },
            "balance": round(self.balance, 6),
            "currency": s.currency,
            "clickatell_credits": round(self.credits, 6),
            "stored_messages": len(self.store),
            "callbacks": {
                "sent": stats.callbacks_sent,
                "failed": stats.callbacks_failed,
                "inbound_sent": stats.inbound_sent,
            },
        }
        if per_recipient:
            out["per_recipient"] = dict(stats.per_recipient)
        return out
