"""A recipient's message on its way: planned, claimed, sent, settled.

Plain dataclasses with slots: they are built hundreds of thousands of times on the load and the
dispatch paths, where a pydantic model's validation would cost more than the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from campaigner.model.states import JobState


@dataclass(slots=True)
class PlannedMessage:
    """One message to send, as the planner made it and the store loads it: where it came from
    (line), to whom, what, and what it costs."""

    line: int
    e164: str
    country: str | None
    body: str
    encoding: str
    segments: int
    cost: Decimal
    fields: dict[str, str]
    # Its short links: (code, link name, target, short URL as the body shows it), loaded with it.
    links: tuple[tuple[str, str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job as a claim or a stale-job search returns it: what a send and a lookup need."""

    id: int
    e164: str
    body: str
    segments: int
    attempts: int
    country: str | None
    sending_at: datetime | None
    worker_id: str | None = None


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    """At most `limit` messages to one number per `window_seconds`, per account ([compliance]
    frequency_cap); a capped job is skipped, or waits for the window (`wait`)."""

    limit: int
    window_seconds: float
    wait: bool = False


@dataclass(frozen=True, slots=True)
class JobResult:
    """A write-back for one job that a dispatcher had in `sending`."""

    job_id: int
    state: JobState
    provider_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    # The taxonomy class of the last error (transient, recipient, opt_out, account, funds), so that
    # `campaigner retry` can tell a fixable rejection from an opt-out.
    error_class: str | None = None
    retry_in: float = 0.0  # seconds until a pending job may be claimed again
    attempts_delta: int = 0  # -1: this claim does not count as an attempt
    # What the provider reported on accepting it (None: it did not say).
    reported_segments: int | None = None
    reported_cost: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Settlement:
    """What a lookup found for a job someone else left in `sending`."""

    job_id: int
    attempts: int  # as claimed: the guard that no one else settled or reclaimed it meanwhile
    found: bool
    provider_id: str | None
    sending_at: datetime | None = None  # as claimed: a later claim of the same job is left alone


@dataclass(frozen=True, slots=True)
class Job:
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
    state: JobState
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
class Suppression:
    """A number never to be sent to."""

    e164: str
    reason: str
    source: str
    created_at: datetime
    # '' for the whole account, else the sender number it is about (compliance.opt_out_scope).
    sender: str = ""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A dispatching process as registered."""

    id: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


def sender_scope(sender: str) -> str:
    """The key a per-sender opt-out is kept under: the sender's letters and digits only, so that
    "+31 970 1020 3040" and "3197010203040" are one number (SQL: regexp_replace [^0-9A-Za-z])."""
    return "".join(c for c in sender if c.isascii() and c.isalnum())
