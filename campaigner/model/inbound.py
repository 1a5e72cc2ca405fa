"""What the inbound handlers hand the store and get back: receipts to apply, replies to keep.

A webhook request is applied as a whole (one statement for its receipts, one transaction for its
replies), so these carry one event each and the store answers one verdict each, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class FinalReceipt:
    """A receipt that ends a message: `status` is delivered or undelivered."""

    provider_id: str
    status: str
    error_code: str | None = None
    error: str | None = None
    occurred_at: datetime | None = None
    reported_segments: int | None = None
    reported_cost: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CallbackEcho:
    """A status callback's echo of our clientMessageId, naming the job a send was ambiguous about:
    `ref` the job (or, with `e164`, the first job of a batch request and the recipient within it)."""

    ref: int
    e164: str | None
    provider_id: str


@dataclass(frozen=True, slots=True)
class ReceiptVerdict:
    """What became of one FinalReceipt: accepted (its job moved), duplicate, parked or park_refused."""

    provider_id: str
    verdict: str
    job_id: int | None = None
    campaign_id: int | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """One message a recipient sent, as it is kept: `e164` None when its number did not parse,
    `problem` set when it is kept but not applied (then `body` is kept too, for a person to read)."""

    provider_id: str
    from_number: str
    e164: str | None
    to_number: str
    reply: str  # opt_out | opt_in | help | other
    sent_at: datetime
    problem: str | None = None
    body: str | None = None
    # An opt-out found only by fuzzy mode (a word inside a sentence); the keyword's language.
    fuzzy: bool = False
    language: str = ""


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    """What the store did with a new Reply: `applied` False when a newer STOP/START of the same
    number decides instead; `changed` whether the suppression list changed."""

    applied: bool
    changed: bool


@dataclass(frozen=True, slots=True)
class ReplyDraft:
    """A confirmation reply owed to one inbound message (campaigner/inbound/confirmations.py): its
    kind (opt_out | opt_in | help), the keyword's language, its text and its price."""

    kind: str
    language: str
    body: str
    segments: int
    country: str | None
    cost: Decimal


@dataclass(frozen=True, slots=True)
class ClaimedReply:
    """A confirmation reply the reply sender holds in `sending`."""

    id: int
    kind: str
    e164: str
    body: str
    segments: int
    attempts: int
