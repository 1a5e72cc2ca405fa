"""A campaign as stored, as listed, as created, and its totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from campaigner.model.states import CampaignState, JobState


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign as stored."""

    id: int
    name: str
    message: str
    provider_account: str
    sender: str
    region: str
    smart_encoding: bool
    state: CampaignState
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
    # When `campaigner purge` deleted its jobs (its totals stay); it never runs again.
    purged_at: datetime | None = None
    # Message validity (--valid-for / --valid-until): valid_until is fixed at the first start when
    # only valid_for was given; jobs not sent by then expire.
    valid_for: timedelta | None = None
    valid_until: datetime | None = None
    # Its share of the account's rate under [dispatcher] fairness = "priority" (--priority, 1-100;
    # migration 0022), in proportion to the others' (dispatch/fair_share.py).
    priority: int = 10

    def one_per_request(self) -> bool:
        """Its texts are personalised: each message goes in a request of its own, even at a provider
        that takes batches. A shared schedule charges every request as the largest one a run may
        send (dispatch/shared_throttle.py), so batching the few recipients who happen to share a
        text would make every one-number request as dear as a batch; campaigns of one text batch."""
        return bool((self.preview or {}).get("personalised"))

    def most_segments(self) -> int:
        """The most segments any one of its messages has (1 when the preview does not say)."""
        histogram = (self.preview or {}).get("segments_histogram") or {}
        return max((int(n) for n in histogram), default=1)


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    """One line of `campaigner campaigns`: the campaign and its counters."""

    id: int
    name: str
    state: CampaignState
    total_jobs: int
    estimated_cost: Decimal
    currency: str
    counts: dict[str, int]
    cost_so_far: Decimal
    created_at: datetime
    reason: str | None
    priority: int = 10


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
    valid_for: timedelta | None = None
    valid_until: datetime | None = None
    priority: int = 10


@dataclass(frozen=True, slots=True)
class CampaignWatchState:
    """What a campaign's runner watches while it sends: read for every carried campaign at once."""

    id: int
    state: CampaignState
    valid_until: datetime | None
    priority: int
    sender: str


@dataclass(frozen=True, slots=True)
class CampaignTotals:
    """The preview's totals, known once every job is loaded."""

    total_jobs: int
    estimated_cost: Decimal
    preview: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReportedCosts:
    """What the provider reported for a campaign's messages, beside what the preview estimated."""

    messages: int  # messages with a reported cost
    reported: Decimal
    estimated: Decimal  # the estimate of those same messages
    more_segments: int  # messages the provider counted more segments for than the preview


@dataclass(frozen=True, slots=True)
class StateTotal:
    """Jobs of one campaign in one state, and their estimated cost."""

    jobs: int
    cost: Decimal


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    """One of a campaign's most frequent errors."""

    state: JobState
    error_class: str | None
    error_code: str | None
    error_message: str | None
    jobs: int
