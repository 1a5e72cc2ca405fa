"""The job and campaign state machines, as the database's triggers enforce them.

The triggers (`campaigner/sql/migrations/0001_schema.sql`, `0005_store_speed.sql`, the newest
transition table in `0014_caps_and_expiry.sql`) are the guard;
these tables let Python say "cannot resume a completed campaign" before asking, and name the
states everywhere else instead of bare strings. A test checks both sides agree.

    job:       pending ──claim──► sending ──accepted──► submitted ──receipt──► delivered | undelivered
                  ▲  │              │  └──permanent──► rejected ──retry──► pending
                  │  │              ├──transient, throttled, paused, released──► pending
                  │  │              └──no callback settled it in time (no lookup)──► unknown
                  │  └──suppressed or frequency-capped at claim──► skipped;   pending ──cancel──► cancelled
                  pending ──valid_until passed──► expired
                  unknown ──late callback──► submitted;  unknown ──retry --unknown──► pending
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """Where one recipient's message is; the job table's `state`."""

    PENDING = "pending"
    SENDING = "sending"
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    # The provider may or may not have it: an ambiguous send that no callback settled within
    # provider.unsettled_after, at a provider that cannot be asked (Clickatell). Never resent
    # silently; a late callback still settles it.
    UNKNOWN = "unknown"
    # Not sent by the campaign's valid_until (--valid-for / --valid-until): final, never sent.
    EXPIRED = "expired"


class CampaignState(StrEnum):
    """Where a campaign is; the campaigns table's `state`."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


J, C = JobState, CampaignState

JOB_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    J.PENDING: frozenset({J.SENDING, J.SKIPPED, J.CANCELLED, J.EXPIRED}),
    J.SENDING: frozenset({J.SUBMITTED, J.PENDING, J.REJECTED, J.UNKNOWN}),
    J.SUBMITTED: frozenset({J.DELIVERED, J.UNDELIVERED}),
    J.REJECTED: frozenset({J.PENDING}),  # only `campaigner retry`
    J.DELIVERED: frozenset(),
    J.UNDELIVERED: frozenset(),
    J.SKIPPED: frozenset(),
    J.CANCELLED: frozenset(),
    J.UNKNOWN: frozenset({J.SUBMITTED, J.PENDING}),  # a late callback; `retry --unknown`
    J.EXPIRED: frozenset(),
}

CAMPAIGN_TRANSITIONS: dict[CampaignState, frozenset[CampaignState]] = {
    C.DRAFT: frozenset({C.SCHEDULED, C.RUNNING, C.CANCELLED}),
    C.SCHEDULED: frozenset({C.RUNNING, C.PAUSED, C.CANCELLED, C.DRAFT}),
    C.RUNNING: frozenset({C.PAUSED, C.COMPLETED, C.CANCELLED, C.FAILED}),
    C.PAUSED: frozenset({C.RUNNING, C.CANCELLED, C.FAILED}),
    C.COMPLETED: frozenset({C.RUNNING}),  # only `retry`, after putting rejected jobs back to pending
    C.FAILED: frozenset({C.RUNNING}),  # only `retry`
    C.CANCELLED: frozenset(),
}

# Job states in which a message reached the provider and costs money.
SENT_STATES = frozenset({J.SUBMITTED, J.DELIVERED, J.UNDELIVERED})
# Campaign states in which nothing is sent any more (a retry may reopen completed and failed).
ENDED_CAMPAIGN_STATES = frozenset({C.COMPLETED, C.CANCELLED, C.FAILED})


def states_leading_to(state: CampaignState) -> list[CampaignState]:
    """The campaign states from which `state` may be reached."""
    return [source for source, targets in CAMPAIGN_TRANSITIONS.items() if state in targets]
