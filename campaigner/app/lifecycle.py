"""A campaign's state changes as every front end asks for them: the CLI's commands and the HTTP API.

Pause, resume and cancel are the store's guarded transitions (`Store.pause_campaign`, ...); these
functions add what a front end needs beside them, so the CLI and the API do the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from campaigner.app.wiring import ensure_own_account, start_running
from campaigner.config import Config
from campaigner.errors import StateError
from campaigner.model.campaigns import Campaign
from campaigner.model.states import ENDED_CAMPAIGN_STATES, SENT_STATES, JobState
from campaigner.store.store import Store

# The error classes `retry` puts back by default (and the only ones it may): never an opt-out or a
# recipient's error.
RETRYABLE = ("transient", "account", "funds")


@dataclass(frozen=True, slots=True)
class Cancelled:
    """What a cancel did: pending jobs cancelled, and those it could not take back."""

    cancelled: int
    with_provider: int  # already accepted: they stay sent
    sending: int  # in flight: settled as their dispatcher stops, never sent again


async def cancel(store: Store, campaign_id: int) -> Cancelled:
    """Cancel the campaign and every job not yet sent (StateError when it cannot be cancelled)."""
    cancelled = await store.cancel_campaign(campaign_id)
    counts = await store.job_counts(campaign_id)
    with_provider = sum(counts.get(state, 0) for state in SENT_STATES)
    return Cancelled(cancelled, with_provider, counts.get(JobState.SENDING, 0))


def ensure_not_purged(campaign: Campaign) -> None:
    """StateError for a campaign whose jobs `campaigner purge` deleted: nothing of it can run again."""
    if campaign.purged_at is not None:
        raise StateError(
            f"campaign {campaign.id} was purged on {campaign.purged_at:%Y-%m-%d}: its jobs are gone "
            "(status and report still show its totals)"
        )


async def put_back_failed(
    store: Store, config: Config, campaign_id: int, reasons: tuple[str, ...] = RETRYABLE
) -> tuple[int, bool]:
    """Put the campaign's fixable rejected jobs back to pending; returns (jobs put back, reopen).

    `reopen`: the campaign has ended and now has jobs to send again, so whoever carries it must
    make it running (`start_running(..., reopen=True)`).
    """
    campaign = await store.get_campaign(campaign_id)  # a clear error for an unknown id
    ensure_own_account(campaign, config)  # before any job is put back
    ensure_not_purged(campaign)
    count = await store.retry_rejected(campaign_id, list(reasons))
    return count, count > 0 and campaign.state in ENDED_CAMPAIGN_STATES


async def retry_for_daemon(store: Store, config: Config, campaign_id: int) -> int:
    """Retry for the daemon to carry: put failed jobs back and make the campaign running again."""
    count, reopen = await put_back_failed(store, config, campaign_id)
    if reopen:
        await start_running(store, campaign_id, reopen=True)
    return count
