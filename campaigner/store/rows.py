"""Typed rows of the store, and the campaign state machine shared by Python and the SQL trigger.

Plain frozen dataclasses: they are built hundreds of times a second on the dispatch path, and a
model per named query keeps the callers away from `asyncpg.Record`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, time
from decimal import Decimal
from typing import Any, Self

import asyncpg

CAMPAIGN_STATES = ("draft", "scheduled", "running", "paused", "completed", "cancelled", "failed")
JOB_STATES = (
    "pending",
    "sending",
    "submitted",
    "delivered",
    "undelivered",
    "rejected",
    "skipped",
    "cancelled",
)
# Job states in which a message reached the provider and costs money.
SENT_STATES = ("submitted", "delivered", "undelivered")
# Job states after which nothing more happens to it (a receipt may still move submitted on).
FINAL_STATES = ("delivered", "undelivered", "rejected", "skipped", "cancelled")

# The same set as the campaigns_transition trigger in sql/migrations/0001_schema.sql: the trigger is
# the guard, this table lets Python say "cannot resume a completed campaign" before asking.
CAMPAIGN_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("scheduled", "running", "cancelled"),
    "scheduled": ("running", "paused", "cancelled", "draft"),
    "running": ("paused", "completed", "cancelled", "failed"),
    "paused": ("running", "cancelled", "failed"),
    "completed": ("running",),  # only `retry`, after putting rejected jobs back to pending
    "failed": ("running",),  # only `retry`
    "cancelled": (),
}


def states_leading_to(state: str) -> list[str]:
    """The campaign states from which `state` may be reached."""
    return [source for source, targets in CAMPAIGN_TRANSITIONS.items() if state in targets]


class _Row:
    """Build a dataclass from a record, taking the columns it names and ignoring the rest."""

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> Self:
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        return cls(**{name: record[name] for name in names if name in record.keys()})


@dataclass(frozen=True, slots=True)
class Campaign(_Row):
    """A campaign as stored."""

    id: int
    name: str
    message: str
    provider_account: str
    sender: str
    region: str
    smart_encoding: bool
    state: str
    send_at: datetime | None
    quiet_start: time | None
    quiet_end: time | None
    total_jobs: int
    estimated_cost: Decimal
    currency: str
    preview: dict[str, Any]
    reason: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CampaignSummary(_Row):
    """One line of `campaigner campaigns`: the campaign and its counters."""

    id: int
    name: str
    state: str
    total_jobs: int
    estimated_cost: Decimal
    currency: str
    counts: dict[str, int]
    cost_so_far: Decimal
    created_at: datetime
    reason: str | None


@dataclass(frozen=True, slots=True)
class ClaimedJob(_Row):
    """A job as claim-jobs and stale-sending-jobs return it: what a send and a lookup need."""

    id: int
    e164: str
    body: str
    segments: int
    attempts: int
    country: str | None
    sending_at: datetime | None
    worker_id: str | None = None


@dataclass(frozen=True, slots=True)
class Job(_Row):
    """A whole job row."""

    id: int
    campaign_id: int
    line: int
    e164: str
    country: str | None
    body: str
    segments: int
    encoding: str
    cost: Decimal
    state: str
    attempts: int
    next_attempt_at: datetime
    worker_id: str | None
    lease_expires_at: datetime | None
    provider_id: str | None
    error_code: str | None
    error_class: str | None
    error_message: str | None
    created_at: datetime
    sending_at: datetime | None
    submitted_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StateTotal:
    """Jobs of one campaign in one state, and their estimated cost."""

    jobs: int
    cost: Decimal


@dataclass(frozen=True, slots=True)
class ErrorSummary(_Row):
    """One of a campaign's most frequent errors."""

    state: str
    error_class: str | None
    error_code: str | None
    error_message: str | None
    jobs: int


@dataclass(frozen=True, slots=True)
class Suppression(_Row):
    """A number never to be sent to."""

    e164: str
    reason: str
    source: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WorkerInfo(_Row):
    """A dispatcher process as registered."""

    id: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """The job a delivery receipt moved on."""

    job_id: int
    campaign_id: int


@dataclass(frozen=True, slots=True)
class NewCampaign:
    """What `create` knows about a campaign before its jobs are loaded."""

    name: str
    message: str
    provider_account: str = "default"
    sender: str = ""
    region: str = ""
    smart_encoding: bool = False
    send_at: datetime | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    currency: str = "EUR"


@dataclass(frozen=True, slots=True)
class CampaignTotals:
    """The preview's totals, known once every job is loaded."""

    total_jobs: int
    estimated_cost: Decimal
    preview: dict[str, Any]
