"""The store: campaigns, jobs, suppressions, workers and shared rate buckets in PostgreSQL.

One method per named query in `sql/queries/`, returning the typed rows of `store_models`. The job
methods the dispatcher uses live in `store_jobs.JobStore`, receipts and replies in
`store.inbound.InboundStore`; this class adds campaigns (creation by COPY, the guarded state
machine), counters, suppressions, workers and rate buckets.

    store = await Store.open(config)          # pool + pending migrations applied
    ...
    await store.close()

or, from a synchronous CLI command, `run_with_store(config, lambda store: ...)`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

import asyncpg

from campaigner.config import Config
from campaigner.errors import NotFoundError, StateError
from campaigner.model.campaigns import (
    Campaign,
    CampaignSummary,
    CampaignTotals,
    CampaignWatchState,
    ErrorSummary,
    NewCampaign,
    ReportedCosts,
    StateTotal,
)
from campaigner.model.jobs import PlannedMessage, Suppression, WorkerInfo, sender_scope
from campaigner.model.states import ENDED_CAMPAIGN_STATES, SENT_STATES, CampaignState, states_leading_to
from campaigner.store import migrations
from campaigner.store.consent import ConsentStore
from campaigner.store.database import Database, Transaction
from campaigner.store.inbound import InboundStore
from campaigner.store.jobs import JobStore, _rows_changed
from campaigner.store.links import LinkStore, copy_links
from campaigner.store.observe import ObserveStore
from campaigner.store.purge import PurgeStore
from campaigner.store.rows import from_record

T = TypeVar("T")

# jobs.cost is numeric(12, 6): PostgreSQL rounds half away from zero to this.
COST_QUANTUM = Decimal("0.000001")
# `campaigner delete` removes only what nothing will send any more.
DELETABLE_STATES = frozenset({CampaignState.DRAFT}) | ENDED_CAMPAIGN_STATES

# The columns COPY fills; every other column takes its default (state pending, now(), ...).
JOB_COLUMNS = ("campaign_id", "line", "e164", "country", "body", "segments", "encoding", "cost")


@dataclass(slots=True)
class _Price:
    """One distinct cost of a campaign's jobs, converted once, and how many loaded rows have it."""

    value: Decimal
    rows: int = 0


class Store(JobStore, InboundStore, ObserveStore, PurgeStore, ConsentStore, LinkStore):
    """Every database operation campaigner performs, over one `Database` pool."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    async def open(cls, config: Config, *, migrate: bool = True) -> Store:
        """Connect as `config` says and (by default) apply pending migrations first."""
        db = await Database.connect(config)
        try:
            if migrate:
                await migrations.upgrade(db)
        except BaseException:
            await db.close()
            raise
        return cls(db)

    @classmethod
    async def open_url(cls, url: str, *, migrate: bool = True, max_size: int = 10) -> Store:
        """Connect to `url` (tests, benchmarks)."""
        db = await Database.open(url, min_size=1, max_size=max_size)
        try:
            if migrate:
                await migrations.upgrade(db)
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def close(self) -> None:
        """Close the pool."""
        await self.db.close()

    # -- campaigns ------------------------------------------------------------------------------

    async def create_campaign(
        self,
        spec: NewCampaign,
        batches: Iterable[Sequence[PlannedMessage]],
        totals: Callable[[], CampaignTotals],
        *,
        scheduled: bool = False,
        require_opt_in: bool = False,
        new_code: Callable[[], str] | None = None,
    ) -> int:
        """Insert a campaign and COPY its jobs in one transaction; returns the campaign id.

        `batches` is consumed inside the COPY; any error it raises (a bad row half way) rolls back
        everything, so no campaign is left behind. `totals` is called once the batches are done.
        Messages with short links have them loaded in the same transaction, each batch's links
        before its jobs, so a job is never committed without its codes; `new_code` draws a code
        again when one clashes with a stored one.
        """
        state = str(CampaignState.SCHEDULED if scheduled else CampaignState.DRAFT)
        async with self.db.transaction() as tx:
            campaign_id: int = await tx.value(
                "insert-campaign",
                spec.name,
                spec.message,
                spec.provider_account,
                spec.sender,
                spec.region,
                spec.smart_encoding,
                state,
                spec.send_at,
                spec.quiet_start,
                spec.quiet_end,
                spec.currency,
                spec.valid_for,
                spec.valid_until,
                spec.priority,
            )
            # A campaign has a handful of distinct costs: round each once, not once a row. The
            # same table counts the rows sent, for job_counts (jobs have no INSERT trigger).
            loaded: dict[Decimal, _Price] = {}

            def cost(value: Decimal) -> Decimal:
                found = loaded.get(value)
                if found is None:
                    # Rounded as the numeric(12, 6) column stores it, so that the counters'
                    # sum is the sum of the stored costs that later transitions subtract.
                    found = loaded[value] = _Price(value.quantize(COST_QUANTUM, ROUND_HALF_UP))
                found.rows += 1
                return found.value

            def record(m: PlannedMessage) -> tuple[object, ...]:
                return (campaign_id, m.line, m.e164, m.country, m.body, m.segments, m.encoding, cost(m.cost))

            remaining = iter(batches)
            first = next(remaining, None)
            if first is not None and new_code is not None and any(m.links for m in first):
                # One COPY of links and one of jobs a batch (a batch is 10,000 messages), each
                # batch's while the next is planned.
                await _copy_linked_batches(tx, campaign_id, first, remaining, record, new_code)
            else:
                if first is not None and any(m.links for m in first):
                    raise ValueError("messages with links need new_code to load")
                records = (
                    record(m) for batch in itertools.chain([first] if first else [], remaining) for m in batch
                )
                await tx.copy_records("jobs", JOB_COLUMNS, records)
            jobs = sum(price.rows for price in loaded.values())
            if jobs:
                amount = sum((price.value * price.rows for price in loaded.values()), Decimal(0))
                await tx.execute("add-loaded-jobs", campaign_id, jobs, amount)
            done = totals()
            await tx.execute(
                "set-campaign-totals", campaign_id, done.total_jobs, done.estimated_cost, done.preview
            )
            if require_opt_in:  # consent.require_opt_in: enforced by claim-jobs
                await tx.execute("set-campaign-consent", campaign_id, True)
        return campaign_id

    async def get_campaign(self, campaign_id: int) -> Campaign:
        """One campaign; NotFoundError when there is no such id."""
        row = await self.db.one("get-campaign", campaign_id)
        if row is None:
            raise NotFoundError(f"campaign {campaign_id} does not exist")
        return from_record(Campaign, row)

    async def list_campaigns(self) -> list[CampaignSummary]:
        """Every campaign with its counters, oldest first."""
        return [from_record(CampaignSummary, r) for r in await self.db.all("list-campaigns")]

    async def running_campaign_ids(self) -> list[int]:
        """Campaigns whose jobs may be claimed now."""
        return [r["id"] for r in await self.db.all("running-campaign-ids")]

    async def inbound_cursor(self, account: str) -> tuple[int, datetime] | None:
        """The newest polled inbound message id of `account` already applied, and its time."""
        row = await self.db.one("inbound-cursor", account)
        return None if row is None else (int(row["last_id"]), row["last_at"])

    async def save_inbound_cursor(self, account: str, last_id: int, last_at: datetime) -> None:
        """Inbound message `last_id` of `account` is applied (the cursor never moves back)."""
        await self.db.execute("save-inbound-cursor", account, last_id, last_at)

    async def reported_costs(self, campaign_id: int) -> ReportedCosts:
        """What the provider reported for the campaign's messages, beside the estimate."""
        row = await self.db.one("reported-costs", campaign_id)
        assert row is not None  # an aggregate always has its row
        return ReportedCosts(row["messages"], row["reported"], row["estimated"], row["more_segments"])

    async def campaigns_awaiting_receipts(self, account: str) -> list[int]:
        """Campaigns of `account` with jobs submitted and no final receipt yet."""
        return [r["id"] for r in await self.db.all("campaigns-awaiting-receipts", account)]

    async def awaiting_receipt(self, campaign_id: int, older_than: float, limit: int) -> list[str]:
        """Provider ids of submitted jobs waiting `older_than` seconds for a receipt, oldest first."""
        rows = await self.db.all("awaiting-receipt-jobs", campaign_id, float(older_than), limit)
        return [r["provider_id"] for r in rows]

    async def unsettled_campaigns(self, accounts: Sequence[str]) -> list[tuple[int, str]]:
        """(id, account) of the campaigns of `accounts` that are not running but still have jobs
        in `sending`."""
        rows = await self.db.all("unsettled-campaign-ids", list(accounts))
        return [(r["id"], r["provider_account"]) for r in rows]

    async def due_scheduled_campaigns(self) -> list[int]:
        """Scheduled campaigns whose `send_at` has come."""
        return [r["id"] for r in await self.db.all("due-scheduled-campaigns")]

    async def set_campaign_state(
        self, campaign_id: int, new_state: CampaignState | str, reason: str | None = None
    ) -> Campaign:
        """Move a campaign to `new_state` if the state machine allows it from where it is now.

        StateError names both states otherwise; NotFoundError for an unknown id. Every change is
        NOTIFYed on `campaigner_campaigns` (by a trigger) at commit.
        """
        state = CampaignState(new_state)
        sources = [str(s) for s in states_leading_to(state)]
        row = await self.db.one("set-campaign-state", campaign_id, str(state), sources, reason)
        if row is None:
            current = await self.get_campaign(campaign_id)
            raise StateError(f"campaign {campaign_id} is {current.state}: it cannot become {new_state}")
        return from_record(Campaign, row)

    async def pause_campaign(self, campaign_id: int, reason: str) -> Campaign:
        """running/scheduled → paused with `reason`; pausing a paused campaign changes nothing."""
        try:
            return await self.set_campaign_state(campaign_id, CampaignState.PAUSED, reason)
        except StateError:
            current = await self.get_campaign(campaign_id)
            if current.state == CampaignState.PAUSED:
                return current
            raise

    async def resume_campaign(self, campaign_id: int) -> Campaign:
        """paused/draft → running (or back to scheduled while its send_at is still ahead);
        a scheduled campaign stays scheduled until due. Anything else is a StateError."""
        current = await self.get_campaign(campaign_id)
        if current.state == CampaignState.SCHEDULED:
            return current
        if current.state not in (CampaignState.PAUSED, CampaignState.DRAFT):
            raise StateError(
                f"campaign {campaign_id} is {current.state}: only a paused or draft campaign can be resumed"
            )
        target = CampaignState.RUNNING
        if current.send_at is not None and current.state == CampaignState.PAUSED:
            due = await self.db.value("campaign-send-at-due", campaign_id)
            target = CampaignState.RUNNING if due else CampaignState.SCHEDULED
        return await self.set_campaign_state(campaign_id, target)

    async def delete_campaign(self, campaign_id: int) -> int:
        """Delete a draft or ended campaign with all its jobs and counters; returns the jobs deleted.
        StateError for any other state (or while jobs of it are being sent), NotFoundError if none."""
        async with self.db.transaction() as tx:
            row = await tx.one("delete-campaign", campaign_id, [str(s) for s in DELETABLE_STATES])
            if row is not None:
                await tx.execute("delete-campaign-counters", campaign_id)
                return int(row["jobs"])
        current = await self.get_campaign(campaign_id)
        if current.state in DELETABLE_STATES:
            raise StateError(
                f"campaign {campaign_id} has jobs being sent; they are settled by asking the provider "
                "(a daemon does it within a minute): try again then"
            )
        raise StateError(
            f"campaign {campaign_id} is {current.state}: only a draft or an ended campaign can be deleted "
            f"(cancel it first: `campaigner cancel {campaign_id}`)"
        )

    async def cancel_campaign(self, campaign_id: int) -> int:
        """→ cancelled, and every not-yet-sent job → cancelled, atomically; returns jobs cancelled."""
        async with self.db.transaction() as tx:
            row = await tx.one(
                "set-campaign-state",
                campaign_id,
                str(CampaignState.CANCELLED),
                [str(s) for s in states_leading_to(CampaignState.CANCELLED)],
                None,
            )
            if row is None:
                current = await self.get_campaign(campaign_id)
                raise StateError(f"campaign {campaign_id} is {current.state}: it cannot be cancelled")
            return _rows_changed(await tx.execute("cancel-campaign-jobs", campaign_id))

    async def complete_campaign_if_done(self, campaign_id: int) -> bool:
        """running → completed when no job is pending or sending; True if it just completed."""
        return await self.db.value("complete-campaign-if-done", campaign_id) is not None

    async def job_totals(self, campaign_id: int) -> dict[str, StateTotal]:
        """Jobs and their cost per state (only states that have jobs), from the counters."""
        rows = await self.db.all("job-counts", campaign_id)
        return {r["state"]: StateTotal(r["jobs"], r["cost"]) for r in rows if r["jobs"]}

    async def job_counts(self, campaign_id: int) -> dict[str, int]:
        """Number of jobs per state (only states that have jobs)."""
        return {state: total.jobs for state, total in (await self.job_totals(campaign_id)).items()}

    async def job_counts_many(self, campaign_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """`job_counts` of several campaigns in one statement; every id asked for is a key."""
        counts: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in campaign_ids}
        if counts:
            for r in await self.db.all("job-counts-many", list(counts)):
                if r["jobs"]:
                    counts[r["campaign_id"]][r["state"]] = r["jobs"]
        return counts

    async def watch_campaigns(self, campaign_ids: Sequence[int]) -> list[CampaignWatchState]:
        """State, validity, priority and sender of the campaigns named (those that exist)."""
        rows = await self.db.all("watch-campaigns", list(campaign_ids))
        return [from_record(CampaignWatchState, r) for r in rows]

    async def pending_segments_by_country(self, campaign_id: int) -> dict[str | None, int]:
        """Segments of the campaign's jobs still to send, per destination country."""
        rows = await self.db.all("pending-segments-by-country", campaign_id)
        return {r["country"]: int(r["segments"]) for r in rows}

    async def cost_so_far(self, campaign_id: int) -> Decimal:
        """Estimated cost of the jobs the provider accepted."""
        totals = await self.job_totals(campaign_id)
        return sum((totals[s].cost for s in SENT_STATES if s in totals), Decimal(0))

    async def last_errors(self, campaign_id: int, limit: int = 5) -> list[ErrorSummary]:
        """The most frequent errors of the campaign's rejected and undelivered jobs."""
        return [from_record(ErrorSummary, r) for r in await self.db.all("last-errors", campaign_id, limit)]

    async def export_jobs(self, campaign_id: int, prefetch: int = 5000) -> AsyncIterator[asyncpg.Record]:
        """Every job of a campaign in id order, streamed through a cursor (constant memory)."""
        async with self.db.transaction() as tx:
            async for row in tx.cursor("export-jobs", campaign_id, prefetch=prefetch):
                yield row

    # -- suppressions ---------------------------------------------------------------------------

    async def add_suppressions(
        self,
        e164s: Sequence[str],
        reason: str,
        source: str,
        *,
        action: str = "manual_add",
        origins: Sequence[str] | None = None,
        campaign_id: int | None = None,
        sender: str = "",
        account: str = "",
    ) -> int:
        """Add numbers to the suppression list; returns new entries.

        Each number given is also a consent_ledger row (`action`, its origin from `origins`, else
        `source`; `campaign_id` when a campaign's send found it), in the same statement. `sender`
        scopes the entry to one sender number ('' = the whole account). Their pending jobs are
        skipped when a dispatcher claims them (claim-jobs); a dispatcher holding some already sees
        the new entry through `suppressed_since_any`.
        """
        origins = [source] * len(e164s) if origins is None else list(origins)
        if len(origins) != len(e164s):
            raise ValueError("one origin a number")
        # The statement keeps each number once, with its first origin.
        return int(
            await self.db.value(
                "add-suppressions",
                list(e164s),
                reason,
                origins,
                action,
                campaign_id,
                account,
                sender_scope(sender),
                source,
            )
        )

    async def remove_suppressions(self, e164s: Sequence[str], source: str = "manual") -> int:
        """Remove numbers from the list (every scope); each entry removed is a ledger row
        (manual_remove, `source`). Returns how many entries went."""
        return int(await self.db.value("remove-suppressions", sorted(set(e164s)), source))

    async def list_suppressions(self) -> list[Suppression]:
        """The whole suppression list, by number."""
        return [from_record(Suppression, r) for r in await self.db.all("list-suppressions")]

    async def suppressed_since_any(
        self, since: datetime, senders: Sequence[str]
    ) -> list[tuple[str, str, datetime]]:
        """Numbers suppressed after `since`, account-wide or for any of `senders`, oldest first:
        (number, the entry's sender scope, '' account-wide; when it was)."""
        scopes = sorted({""} | {sender_scope(sender) for sender in senders})
        rows = await self.db.all("suppressions-since-any", since, scopes)
        return [(r["e164"], r["sender"], r["created_at"]) for r in rows]

    async def suppressed_numbers(self, sender: str | None = None) -> set[str]:
        """The suppressed numbers, for the planner: account-wide entries and those of `sender`
        (None: every entry)."""
        rows = await self.db.all("list-suppressions")
        if sender is None:
            return {r["e164"] for r in rows}
        scope = sender_scope(sender)
        return {r["e164"] for r in rows if r["sender"] in ("", scope)}

    async def consented_numbers(self, sender: str = "") -> set[str]:
        """Numbers with a recorded opt-in (account-wide or for `sender`), for the preview."""
        return {r["e164"] for r in await self.db.all("consented-numbers", sender_scope(sender))}

    # -- workers ----------------------------------------------------------------------------------

    async def register_worker(self, worker_id: str, hostname: str, pid: int) -> None:
        """Announce a dispatcher (again: refreshes it)."""
        await self.db.execute("register-worker", worker_id, hostname, pid)

    async def heartbeat(self, worker_id: str) -> bool:
        """Refresh a worker's heartbeat; False when it is no longer registered."""
        return await self.db.value("heartbeat", worker_id) is not None

    async def unregister_worker(self, worker_id: str) -> None:
        """Forget a worker that stopped cleanly."""
        await self.db.execute("unregister-worker", worker_id)

    async def dead_workers(self, worker_timeout: float) -> list[WorkerInfo]:
        """Workers silent for more than `worker_timeout` seconds."""
        return [from_record(WorkerInfo, r) for r in await self.db.all("dead-workers", float(worker_timeout))]

    async def list_workers(self) -> list[WorkerInfo]:
        """Every registered worker."""
        return [from_record(WorkerInfo, r) for r in await self.db.all("list-workers")]

    # -- shared rate limits ---------------------------------------------------------------------

    async def reserve_start(
        self, keys: Sequence[str], costs: Sequence[float], idle_delay: float = 0.0
    ) -> float:
        """One start time every shared schedule in `keys` allows; each moves on by `costs[i]` seconds.
        A schedule that is idle (behind the clock) starts `idle_delay` seconds from now.

        Returns that start as a Unix time (see sql/queries/rates.sql).
        """
        row = await self.db.one("reserve-start", list(keys), list(costs), float(idle_delay))
        assert row is not None
        if row["found"] < len(keys):  # a schedule's first use: create it, then reserve
            await self.db.execute("ensure-schedules", list(keys))
            if row["moved"]:
                # Moved the schedules that existed; they already hold this reservation.
                return float(row["at"])
            row = await self.db.one("reserve-start", list(keys), list(costs), float(idle_delay))
            assert row is not None
        return float(row["at"])

    async def reserve_starts(
        self, groups: Sequence[tuple[Sequence[str], Sequence[float], float]]
    ) -> list[float]:
        """reserve_start for each (keys, costs, idle_delay) group, independently, in one round trip
        (no key in two groups). Returns each group's start as a Unix time, in order."""
        keys = [key for group_keys, _costs, _delay in groups for key in group_keys]
        costs = [float(cost) for _keys, group_costs, _delay in groups for cost in group_costs]
        owners = [i for i, (group_keys, _costs, _delay) in enumerate(groups) for _key in group_keys]
        delays = [float(delay) for _keys, _costs, delay in groups]
        rows = await self.db.all("reserve-starts", keys, costs, owners, delays)
        starts = [float(row["at"]) for row in rows]
        for row in rows:
            i = row["grp"]
            if row["found"] == len(groups[i][0]):
                continue
            if row["moved"]:  # some existed and hold the reservation: create the others
                await self.db.execute("ensure-schedules", list(groups[i][0]))
            else:  # a schedule's first use
                starts[i] = await self.reserve_start(*groups[i])
        return starts

    async def push_schedule(self, key: str, seconds: float) -> None:
        """Nobody starts on schedule `key` before `seconds` from now (a 429's Retry-After)."""
        await self.db.execute("push-schedule", key, float(seconds))

    async def cancel_pending_jobs(self, campaign_id: int) -> int:
        """Every pending job of a cancelled campaign → cancelled (jobs released after the cancel)."""
        return _rows_changed(await self.db.execute("cancel-campaign-jobs", campaign_id))


def run_with_store(config: Config, work: Callable[[Store], Awaitable[T]], *, migrate: bool = True) -> T:
    """For synchronous CLI commands: open the store (migrating), run `work`, close, return its result."""

    async def main() -> T:
        store = await Store.open(config, migrate=migrate)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(main())


__all__ = ["JOB_COLUMNS", "Store", "run_with_store"]


async def _copy_linked_batches(
    tx: Transaction,
    campaign_id: int,
    first: Sequence[PlannedMessage],
    remaining: Iterator[Sequence[PlannedMessage]],
    record: Callable[[PlannedMessage], tuple[object, ...]],
    new_code: Callable[[], str],
) -> None:
    """COPY each batch's links, then its jobs, while a thread plans the next batch.

    Without links the jobs' one COPY pulls the planner as it streams, so the server inserts while
    the planner plans. Here each batch is two COPYs, awaited in turn: planned in this thread, the
    next batch would wait for both (and the planner's worker processes would idle). The planner
    is plain synchronous code (its pool is its own), so it runs in a thread; only one `next()` is
    ever running, and it is waited for before the batches are closed, even on an error.
    """
    pending: asyncio.Future[Sequence[PlannedMessage] | None] | None = None
    try:
        batch: Sequence[PlannedMessage] | None = first
        while batch is not None:
            pending = asyncio.ensure_future(asyncio.to_thread(next, remaining, None))
            loaded = await copy_links(tx, campaign_id, batch, new_code)
            await tx.copy_records("jobs", JOB_COLUMNS, [record(m) for m in loaded])
            batch = await pending
            pending = None
    finally:
        if pending is not None:
            # A COPY failed (or the load was cancelled) while the next batch was planned: let that
            # finish before the caller closes the batches (a running generator cannot be closed).
            await asyncio.wait([pending])
            if not pending.cancelled():
                pending.exception()  # retrieved: the COPY's error is the one that propagates
