"""The facts about a campaign that every view shows: the dashboard, the HTTP API, `status`, `report`.

    live = await live_facts(store, config, campaign_id)        # one query: what polling pages read
    facts = await campaign_facts(store, config, campaign_id)   # everything, for a page or a report
    json.dumps(facts.to_json())                                # numbers as numbers, times ISO 8601

Two rules shape the figures. The rate is recent (jobs that left the queue over the last one to two
minutes, from the per-minute counters), not the average since the start, so a campaign that
stopped sending shows 0 at once and one that sped up shows it. The ETA is the time left at that
rate, never shorter than the provider's limits allow, and there is none while nothing sends.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from campaigner.compliance.windows import CountryWindow, country_windows, windows_from_settings
from campaigner.config import ComplianceSettings, Config, ProviderConfig
from campaigner.errors import NotFoundError
from campaigner.model.campaigns import ErrorSummary
from campaigner.model.jobs import WorkerInfo
from campaigner.model.observe import CampaignLive, CountryRow, SampleMessage, TimelinePoint
from campaigner.model.states import SENT_STATES, CampaignState, JobState
from campaigner.observe.clicks import CLICK_TIMELINE_MINUTES, ClickFacts, click_facts
from campaigner.observe.latency import percentiles
from campaigner.observe.wait import WaitReason, no_worker_text, wait_reason
from campaigner.planning.pricing import eta_seconds
from campaigner.store.observe import LATENCY_BOUNDS
from campaigner.store.store import Store

# Minutes of timeline a live answer carries (the dashboard's chart of the last hour).
LIVE_TIMELINE_MINUTES = 60
# The most frequent error groups shown.
ERROR_GROUPS = 10
# The provider ceiling is measured over this many messages (pacing has no burst).
_CEILING_SAMPLE = 1000


@dataclass(frozen=True, slots=True)
class WorkerFact:
    """A live dispatching process, and whether it holds jobs of this campaign right now."""

    id: str
    hostname: str
    pid: int
    heartbeat_at: datetime
    heartbeat_age_seconds: float
    holds_jobs: bool


@dataclass(frozen=True, slots=True)
class Carriers:
    """Who carries a campaign: live workers on this database ("no live worker" when none)."""

    live: tuple[WorkerFact, ...]
    holding: tuple[str, ...]  # ids of workers with jobs of it in `sending` (alive or not)
    note: str | None  # set when no worker is alive to carry it


@dataclass(frozen=True, slots=True)
class LiveFacts:
    """What changes while a campaign sends: read in one statement, cheap to poll."""

    id: int
    name: str
    state: CampaignState
    reason: str | None
    counts: dict[str, int]
    total: int
    done: int
    left: int
    progress: float  # done / total, 0..1
    cost_so_far: Decimal
    estimated_cost: Decimal
    currency: str
    rate: float  # jobs a second that left the queue recently
    rate_window_seconds: float
    rate_limit: float | None  # the provider's ceiling, messages a second (None: another account's)
    eta_seconds: float | None
    wait: WaitReason | None
    workers: Carriers
    send_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    as_of: datetime
    timeline: tuple[TimelinePoint, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict: numbers as numbers, times as ISO 8601 strings, states as their names."""
        return _jsonable(self)


@dataclass(frozen=True, slots=True)
class CountryFacts:
    """One line of the per-country table."""

    country: str  # '' when unknown
    sent: int  # accepted by the provider (submitted, delivered or undelivered)
    delivered: int
    undelivered: int
    rejected: int
    cost: Decimal  # estimated cost of the sent ones


@dataclass(frozen=True, slots=True)
class ErrorFacts:
    """A group of failed jobs sharing an error."""

    state: str
    error_class: str | None
    code: str | None
    message: str | None
    jobs: int


@dataclass(frozen=True, slots=True)
class LatencyFacts:
    """Delivery latency (receipt after submission) of the delivered jobs, in seconds."""

    delivered: int
    p50: float | None
    p95: float | None
    p99: float | None


@dataclass(frozen=True, slots=True)
class CampaignFacts:
    """Everything the campaign page, `GET /api/campaigns/{id}` and `report` show."""

    live: LiveFacts
    message: str
    sample: SampleMessage | None
    sender: str
    region: str
    provider_account: str
    quiet_hours: tuple[time, time] | None
    # Seconds the messages were valid for from the start (--valid-for / --valid-until); None: no
    # deadline (the provider's default validity).
    validity_seconds: int | None
    created_at: datetime
    countries: tuple[CountryFacts, ...]
    # Per country with messages left, under sending windows: open now, when it opens, what waits.
    windows: tuple[CountryWindow, ...]
    errors: tuple[ErrorFacts, ...]
    latency: LatencyFacts
    timeline: tuple[TimelinePoint, ...]
    preview: dict[str, Any] = field(default_factory=dict)
    valid_until: datetime | None = None  # jobs not sent by then expire
    # Its share of the account's rate under [dispatcher] fairness = "priority" (--priority).
    priority: int = 10
    # Its short links' clicks (None: the message has no links).
    clicks: ClickFacts | None = None

    def to_json(self) -> dict[str, Any]:
        """The live facts' keys, then the rest (the same names `status --format json` uses)."""
        out = self.live.to_json()
        out.pop("timeline", None)
        rest = _jsonable(self)
        del rest["live"]
        rest["quiet_hours"] = (
            None
            if self.quiet_hours is None
            else {"start": f"{self.quiet_hours[0]:%H:%M}", "end": f"{self.quiet_hours[1]:%H:%M}"}
        )
        rest["last_errors"] = rest.pop("errors")
        out.update(rest)
        return out


def build_live(
    row: CampaignLive, provider: ProviderConfig | None, compliance: ComplianceSettings | None = None
) -> LiveFacts:
    """The live facts of one `observe-campaigns` row; `provider`: the limits of its account, if known;
    `compliance`: its account's settings (whether the country windows hold messages back)."""
    counts = {str(s): row.totals[s].jobs if s in row.totals else 0 for s in JobState}
    total = sum(counts.values())
    left = counts[JobState.PENDING] + counts[JobState.SENDING]
    done = total - left
    cost = sum((row.totals[s].cost for s in SENT_STATES if s in row.totals), Decimal(0))
    window = 0.0
    rate = 0.0
    if row.recent_since is not None:
        window = max((row.now - row.recent_since).total_seconds(), 1.0)
        rate = row.recent_jobs / window
    ceiling = _ceiling(row, provider)
    quiet = _quiet_hours(row.quiet_start, row.quiet_end)
    wait = wait_reason(
        campaign_id=row.id,
        state=row.state,
        reason=row.reason,
        now=row.now,
        send_at=row.send_at,
        quiet_hours=quiet,
        country_windows=compliance is not None and compliance.quiet_hours == "country",
        next_due=row.next_due,
        booked_until=row.booked_until,
        live_workers=len(row.live_workers),
        left=left,
        rate=rate,
        ceiling=ceiling,
    )
    eta = None
    if row.state == CampaignState.RUNNING and rate > 0 and left > 0:
        eta = left / rate
        if provider is not None:
            eta = max(eta, eta_seconds(left, round(left * _segments_per_message(row)), provider))
        eta = round(eta, 1)
    return LiveFacts(
        id=row.id,
        name=row.name,
        state=row.state,
        reason=row.reason,
        counts=counts,
        total=total,
        done=done,
        left=left,
        progress=round(done / total, 4) if total else 0.0,
        cost_so_far=cost,
        estimated_cost=row.estimated_cost,
        currency=row.currency,
        rate=round(rate, 3),
        rate_window_seconds=round(window, 1),
        rate_limit=None if ceiling is None else round(ceiling, 3),
        eta_seconds=eta,
        wait=wait,
        workers=_carriers(row),
        send_at=row.send_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        updated_at=row.updated_at,
        as_of=row.now,
        timeline=row.timeline,
    )


def account_provider(config: Config, account: str) -> ProviderConfig | None:
    """The configured provider's limits when they are `account`'s (a demo campaign's are not known)."""
    return config.provider if config.provider.account == account else None


async def live_facts(
    store: Store, config: Config, campaign_id: int, *, timeline_minutes: int = 0
) -> LiveFacts:
    """One campaign's live facts, in one query; NotFoundError for an unknown id."""
    rows = await store.campaigns_live(
        campaign_id, worker_timeout=config.dispatcher.worker_timeout, timeline_minutes=timeline_minutes
    )
    if not rows:
        raise NotFoundError(f"campaign {campaign_id} does not exist")
    return build_live(rows[0], account_provider(config, rows[0].provider_account), config.compliance)


async def all_live_facts(store: Store, config: Config) -> list[LiveFacts]:
    """Every campaign's live facts, oldest first, in one query."""
    rows = await store.campaigns_live(None, worker_timeout=config.dispatcher.worker_timeout)
    return [
        build_live(row, account_provider(config, row.provider_account), config.compliance) for row in rows
    ]


async def campaign_facts(store: Store, config: Config, campaign_id: int) -> CampaignFacts:
    """Everything about one campaign (a handful of queries, none walking its jobs but the errors')."""
    rows = await store.campaigns_live(campaign_id, worker_timeout=config.dispatcher.worker_timeout)
    if not rows:
        raise NotFoundError(f"campaign {campaign_id} does not exist")
    row = rows[0]
    live = build_live(row, account_provider(config, row.provider_account), config.compliance)
    countries = await store.campaign_countries(campaign_id)
    quiet = _quiet_hours(row.quiet_start, row.quiet_end)
    buckets = await store.campaign_latency(campaign_id)
    spread = percentiles(buckets, LATENCY_BOUNDS)
    country_facts = country_table(countries)
    clicks = None
    if (row.preview or {}).get("links", {}).get("links"):
        clicks = click_facts(
            await store.link_stats(campaign_id, CLICK_TIMELINE_MINUTES),
            live.counts.get(str(JobState.DELIVERED), 0),
            {c.country: c.delivered for c in country_facts},
        )
    return CampaignFacts(
        live=live,
        message=row.message,
        sample=await store.campaign_sample(campaign_id),
        sender=row.sender,
        region=row.region,
        provider_account=row.provider_account,
        quiet_hours=quiet,
        validity_seconds=(
            None
            if row.valid_until is None
            else max(0, round((row.valid_until - (row.started_at or row.created_at)).total_seconds()))
        ),
        valid_until=row.valid_until,
        priority=row.priority,
        created_at=row.created_at,
        countries=country_facts,
        windows=_windows(row, countries, quiet, config.compliance),
        errors=tuple(_error(e) for e in await store.last_errors(campaign_id, ERROR_GROUPS)),
        latency=LatencyFacts(sum(b.jobs for b in buckets), spread["p50"], spread["p95"], spread["p99"]),
        timeline=tuple(await store.campaign_timeline(campaign_id)),
        preview=row.preview,
        clicks=clicks,
    )


def country_table(rows: list[CountryRow]) -> tuple[CountryFacts, ...]:
    """Per-country lines from the per-(country, state) counters, most sent first."""
    by_country: dict[str, dict[str, Any]] = {}
    for r in rows:
        line = by_country.setdefault(r.country, {"sent": 0, "cost": Decimal(0)})
        line[r.state] = line.get(r.state, 0) + r.jobs
        if r.state in SENT_STATES:
            line["sent"] += r.jobs
            line["cost"] += r.cost
    table = [
        CountryFacts(
            country,
            line["sent"],
            line.get(JobState.DELIVERED, 0),
            line.get(JobState.UNDELIVERED, 0),
            line.get(JobState.REJECTED, 0),
            line["cost"],
        )
        for country, line in by_country.items()
    ]
    return tuple(sorted(table, key=lambda c: (-c.sent, c.country)))


def _windows(
    row: CampaignLive,
    countries: list[CountryRow],
    quiet: tuple[time, time] | None,
    compliance: ComplianceSettings,
) -> tuple[CountryWindow, ...]:
    """The sending windows of a campaign still sending, per country with messages left: its
    planned recipients there (the stored preview) less its jobs past the queue (the counters)."""
    if row.state not in (CampaignState.RUNNING, CampaignState.SCHEDULED, CampaignState.PAUSED):
        return ()
    left: dict[str, int] = {}
    for line in (row.preview or {}).get("by_country") or []:
        country = line.get("country") or ""
        left[country] = left.get(country, 0) + int(line.get("recipients") or 0)
    for r in countries:
        left[r.country] = left.get(r.country, 0) - r.jobs
    return country_windows(windows_from_settings(quiet, compliance), left, row.now)


def _error(e: ErrorSummary) -> ErrorFacts:
    return ErrorFacts(str(e.state), e.error_class, e.error_code, e.error_message, e.jobs)


def _carriers(row: CampaignLive) -> Carriers:
    holding = set(row.holding)
    live = tuple(_worker(w, row.now, w.id in holding) for w in row.live_workers)
    carried = row.state not in (CampaignState.RUNNING, CampaignState.SCHEDULED) or bool(live)
    return Carriers(live, row.holding, None if carried else no_worker_text(row.id))


def _worker(w: WorkerInfo, now: datetime, holds: bool) -> WorkerFact:
    age = max((now - w.heartbeat_at).total_seconds(), 0.0)
    return WorkerFact(w.id, w.hostname, w.pid, w.heartbeat_at, round(age, 1), holds)


def _quiet_hours(start: time | None, end: time | None) -> tuple[time, time] | None:
    return None if start is None or end is None else (start, end)


def _segments_per_message(row: CampaignLive) -> float:
    preview = row.preview or {}
    sendable = preview.get("sendable") or 0
    segments = preview.get("segments_total") or 0
    return segments / sendable if sendable and segments else 1.0


def _ceiling(row: CampaignLive, provider: ProviderConfig | None) -> float | None:
    """Messages a second the provider's limits allow for this campaign's messages."""
    if provider is None:
        return None
    n = _CEILING_SAMPLE
    seconds = eta_seconds(n, round(n * _segments_per_message(row)), provider)
    return n / seconds if seconds > 0 else None


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
