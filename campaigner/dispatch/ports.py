"""The ports of the engine: what the dispatcher needs of the store and of a provider, and no more.

The engine declares them; `campaigner.store.store.Store` and the provider clients satisfy them by
shape, and `app/` plugs them in. Unit tests plug in the in-memory implementation in
`tests/unit/memory_ports.py` instead. Every type that crosses a port is from `campaigner.model`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from campaigner.model.campaigns import Campaign, CampaignWatchState
from campaigner.model.jobs import ClaimedJob, FrequencyCap, JobResult, Settlement
from campaigner.model.provider import LookupResult, OutboundMessage, RateLimitInfo, SendResult
from campaigner.model.states import JobState


class Sender(Protocol):
    """A provider account as the engine uses it: send, look a message up, report its rate limits."""

    @property
    def max_recipients_per_request(self) -> int: ...

    # False for a provider that cannot look a message up by our id (Clickatell): an ambiguous send
    # waits for its status callback instead, and then for provider.unsettled_after.
    @property
    def looks_up_messages(self) -> bool: ...

    async def send(self, batch: Sequence[OutboundMessage]) -> list[SendResult]:
        """One result per message, same order; provider and network failures are results."""
        ...

    async def lookup(self, message: OutboundMessage, since: datetime) -> LookupResult:
        """Did `message` reach the provider at or after `since`? Raises a CampaignerError when unsure."""
        ...

    @property
    def rate_limit(self) -> RateLimitInfo: ...


class ResultStore(Protocol):
    """Where results are written back."""

    async def record_results(self, worker_id: str, results: Sequence[JobResult]) -> int: ...


class ReconcileStore(ResultStore, Protocol):
    """What reconciliation needs: jobs others left in `sending`, and a way to settle them."""

    async def stale_sending_jobs(
        self, campaign_id: int, limit: int, worker_timeout: float
    ) -> Sequence[ClaimedJob]: ...
    async def settle_reconciled(self, settlements: Sequence[Settlement]) -> int: ...
    async def mark_unsettled(
        self, campaign_id: int, after: float, worker_timeout: float, becomes: JobState
    ) -> int: ...


class WorkerStore(Protocol):
    """What a worker needs: a registration and a heartbeat."""

    async def register_worker(self, worker_id: str, hostname: str, pid: int) -> None: ...
    async def heartbeat(self, worker_id: str) -> object: ...
    async def unregister_worker(self, worker_id: str) -> None: ...


class ScheduleStore(Protocol):
    """What the shared throttle needs: one schedule of start times per account, in the database."""

    async def reserve_start(
        self, keys: Sequence[str], costs: Sequence[float], idle_delay: float = 0.0
    ) -> float: ...
    async def push_schedule(self, key: str, seconds: float) -> None: ...


class WatchStore(Protocol):
    """What the campaigns' watcher reads (dispatch/campaign_watch.py): campaigns by id, and the
    suppressions since a time under several sender scopes, each in one statement."""

    async def watch_campaigns(self, campaign_ids: Sequence[int]) -> Sequence[CampaignWatchState]: ...
    async def suppressed_since_any(
        self, since: datetime, senders: Sequence[str]
    ) -> Sequence[tuple[str, str, datetime]]: ...


class DispatchStore(ReconcileStore, WatchStore, Protocol):
    """What a campaign's runner needs of the store."""

    async def claim_jobs(
        self,
        campaign_id: int,
        worker_id: str,
        limit: int,
        lease_seconds: float,
        cap: FrequencyCap | None = None,
    ) -> Sequence[ClaimedJob]: ...
    async def expire_pending_jobs(self, campaign_id: int) -> int: ...
    async def release_jobs(self, worker_id: str, job_ids: Sequence[int]) -> int: ...
    async def expire_leases(self, campaign_id: int, worker_id: str) -> int: ...
    async def get_campaign(self, campaign_id: int) -> Campaign: ...
    async def pause_campaign(self, campaign_id: int, reason: str) -> Campaign: ...
    async def complete_campaign_if_done(self, campaign_id: int) -> bool: ...
    async def cancel_pending_jobs(self, campaign_id: int) -> int: ...
    async def add_suppressions(
        self,
        e164s: Sequence[str],
        reason: str,
        source: str,
        *,
        action: str = ...,
        origins: Sequence[str] | None = ...,
        campaign_id: int | None = ...,
        sender: str = ...,
        account: str = ...,
    ) -> int: ...
