"""What crosses the provider boundary: a message out, its result back, receipts and replies in.

The dispatcher hands `OutboundMessage`s to a provider client and gets one `SendResult` per message,
each accepted (with the provider's id) or failed with an `Outcome`, the error taxonomy the
dispatcher acts on (`campaigner.dispatch.decide`). Webhook parsers turn callbacks into
`StatusEvent`s and `InboundEvent`s. Nothing here knows how any provider speaks HTTP.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


class Outcome(enum.StrEnum):
    """What happened to one message in a send request; the dispatcher acts on this alone."""

    ACCEPTED = "accepted"  # the provider took it; provider_id is set
    THROTTLED = "throttled"  # 429: wait retry_after, resend; not an attempt
    TRANSIENT = "transient"  # 5xx, 503, refused before processing: retry with backoff
    AMBIGUOUS = "ambiguous"  # may have reached the provider: reconcile with lookup() first
    RECIPIENT = "recipient"  # this recipient cannot be sent to: reject the job
    ACCOUNT = "account"  # bad key, missing scope, unknown sender: pause the campaign
    FUNDS = "funds"  # balance exhausted: pause the campaign


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to send. `ref` is our job id, echoed back where the provider allows it."""

    ref: int
    to: str  # E.164
    body: str
    segments: int = 1
    # Seconds the provider may keep it queued before giving up (Clickatell's validityPeriod):
    # the time left in the recipient's sending window, when the campaign has quiet hours.
    valid_for: float | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """The fate of one OutboundMessage."""

    ref: int
    outcome: Outcome
    provider_id: str | None = None
    code: str | None = None  # the provider's own error code, as a string ("422", "121", ...)
    message: str | None = None  # the provider's human-readable reason
    retry_after: float | None = None  # seconds, for THROTTLED
    opt_out: bool = False  # RECIPIENT because the recipient opted out / is blocked
    # For AMBIGUOUS: what the job becomes when a lookup finds no such message (None: sent again).
    if_absent: Outcome | None = None
    # For ACCEPTED, where the provider says: the segments it counted and what they cost.
    reported_segments: int | None = None
    reported_cost: Decimal | None = None


@dataclass(frozen=True, slots=True)
class LookupResult:
    """Whether a message the dispatcher is unsure about exists at the provider."""

    found: bool
    provider_id: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """The rate-limit facts seen on the last response (any may be missing)."""

    limit: int | None = None
    remaining: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    """The account's balance in the provider's currency."""

    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class SenderNumber:
    """A number the account may send from."""

    id: str
    number: str  # E.164
    sms_enabled: bool
    country: str | None = None


class DeliveryStatus(enum.StrEnum):
    """Neutral delivery states that webhooks and lookups map onto."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A delivery receipt: message `provider_id` reached `status`."""

    provider_id: str
    status: DeliveryStatus
    occurred_at: datetime | None = None
    error: str | None = None
    # Our job id when the provider echoes it (Clickatell's clientMessageId): the job itself, or,
    # with `ref_e164`, the first job of a batch request and the recipient (E.164) within it.
    ref: int | None = None
    ref_e164: str | None = None
    # What the provider says the message counted and cost, where the receipt carries it (Cliqtel).
    reported_segments: int | None = None
    reported_cost: Decimal | None = None


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """A message a recipient sent to one of our numbers (STOP replies arrive this way)."""

    provider_id: str
    from_number: str  # E.164
    to_number: str
    body: str
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IgnoredEvent:
    """An authenticated webhook record that cannot be used: a field out of range, or text the
    database cannot store. Answered 200 (a retry would bring the same) and counted by `reason`
    (bad_id, bad_time, bad_ref, bad_text); `detail` says which field, never its value."""

    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Coverage:
    """Whether a number can be reached, and the lowest credit charge of one plain message part to
    it (Clickatell's coverage command: "no guarantee that all your messages will be charged this")."""

    routable: bool
    destination: str
    minimum_charge: Decimal | None


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """What a webhook parser needs of an HTTP request: raw body (signatures cover it) and headers."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    # Providers whose callbacks are a GET query or a form (Clickatell) need these too.
    method: str = "POST"
    query: Mapping[str, str] = field(default_factory=dict)


class WebhookRejected(Exception):
    """A webhook whose signature is missing or wrong, or whose body cannot be read (answer 401/400)."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
