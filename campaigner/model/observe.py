"""What the store reads for watching a campaign (sql/queries/observe.sql), before it becomes facts.

`campaigner.observe.facts` turns these rows into the figures the dashboard, the API, `status` and
`report` show; nothing here computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from campaigner.model.campaigns import StateTotal
from campaigner.model.jobs import WorkerInfo
from campaigner.model.states import CampaignState


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """Jobs of one campaign that arrived in `state` during the minute starting at `minute`."""

    minute: datetime
    state: str
    jobs: int


@dataclass(frozen=True, slots=True)
class CampaignLive:
    """One row of `observe-campaigns`: a campaign and what it is doing now, read in one statement."""

    id: int
    name: str
    message: str
    provider_account: str
    sender: str
    region: str
    state: CampaignState
    reason: str | None
    send_at: datetime | None
    quiet_start: time | None
    quiet_end: time | None
    total_jobs: int
    estimated_cost: Decimal
    currency: str
    preview: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    now: datetime  # the database's clock, which every other time here is on
    totals: dict[str, StateTotal]
    recent_jobs: int  # jobs that left the queue since `recent_since`
    recent_since: datetime | None
    next_due: datetime | None  # the next pending job's due time (running campaigns only)
    holding: tuple[str, ...]  # workers holding jobs of it in `sending`
    live_workers: tuple[WorkerInfo, ...]
    booked_until: datetime | None  # the account's shared rate schedule is booked up to here
    timeline: tuple[TimelinePoint, ...] | None
    # The campaign's message validity (--valid-for / --valid-until), once known; None: none.
    valid_until: datetime | None = None
    priority: int = 10  # --priority (migration 0022)


@dataclass(frozen=True, slots=True)
class CountryRow:
    """Jobs of one campaign in one country and state past the queue, and their estimated cost."""

    country: str  # '' when unknown
    state: str
    jobs: int
    cost: Decimal


@dataclass(frozen=True, slots=True)
class LatencyBucket:
    """Delivered jobs whose receipt came `bucket` (an index into LATENCY_BOUNDS) after submission."""

    bucket: int
    jobs: int


@dataclass(frozen=True, slots=True)
class JobRow:
    """One job as `GET /api/campaigns/{id}/jobs` lists it."""

    id: int
    line: int
    e164: str
    country: str | None
    state: str
    attempts: int
    segments: int
    cost: Decimal
    provider_id: str | None
    error_code: str | None
    error_class: str | None
    error_message: str | None
    submitted_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class SampleMessage:
    """One rendered message of a campaign, as it was loaded."""

    line: int
    e164: str
    body: str
    segments: int
    encoding: str


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """One shared rate schedule of an account and how far ahead it is booked."""

    key: str
    tat: datetime
    ahead_seconds: float
