"""Prometheus metrics of one campaigner process, in one registry of our own (`REGISTRY`).

Not the client's global default registry: building the HTTP app many times (tests) registers
nothing twice, and `/metrics` shows exactly campaigner's families:

    campaigner_messages_total{account,outcome}          send results (accepted, throttled, transient, ...)
    campaigner_provider_requests_total{account,code}    HTTP replies from the provider by status code
    campaigner_provider_throttled_total{account}        429 replies
    campaigner_rate_limit_requests_per_second{account,kind}   the request limit, configured and
    campaigner_rate_limit_messages_per_second{account,kind}   effective (lowered after 429s)
    campaigner_campaign_jobs{campaign_id,state}         jobs per state of each carried campaign (daemon)
    campaigner_receipts_total{account,status}           delivery receipts applied: delivered, undelivered
    campaigner_build_info{version,python}               always 1; the labels say what runs
    process_*                                           CPU, memory, open files of the process
    campaigner_webhook_events_total{type,verdict}       status / inbound callbacks and what became of them
    campaigner_webhook_ignored_total{type,reason}       records answered 200 but unusable, by reason
    campaigner_reconciliations_total{outcome}           lookups of unsure jobs (found, not_found, ...)
    campaigner_dispatch_latency_seconds{account}        duration of send requests (histogram)
    campaigner_parked_receipts_total{fate}              early receipts later applied, or expired
    campaigner_throttle_late_slots_total{account,fate}  throttle slots woken for too late (a busy loop
                                                        or machine): moved to the wake-up, or retaken

The hot path (one call per send request) uses `AccountMetrics`, whose label children are looked up
once and cached; nothing here touches the network or the database.

Names follow Prometheus' conventions: base units (seconds), `_total` on counters, no `_created`
series, and nothing precomputed that PromQL does itself (a send rate is
`rate(campaigner_messages_total{outcome="accepted"}[1m])`).
"""

from __future__ import annotations

import platform
from collections import Counter as _Counter
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from prometheus_client import (
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric

# A counter's `_created` sample doubles every series and no dashboard reads it.
disable_created_metrics()

REGISTRY = CollectorRegistry(auto_describe=True)
REGISTRY.register(PROCESS_COLLECTOR)  # process_cpu_seconds_total, process_resident_memory_bytes, ...

MESSAGES = Counter(
    "campaigner_messages", "Send results by outcome.", ["account", "outcome"], registry=REGISTRY
)
PROVIDER_REQUESTS = Counter(
    "campaigner_provider_requests",
    "HTTP replies from the provider by status code.",
    ["account", "code"],
    registry=REGISTRY,
)
THROTTLED = Counter(
    "campaigner_provider_throttled", "429 replies from the provider.", ["account"], registry=REGISTRY
)
REQUEST_LIMIT = Gauge(
    "campaigner_rate_limit_requests_per_second",
    "The account's request limit: kind=configured, or effective (lowered after 429s).",
    ["account", "kind"],
    registry=REGISTRY,
)
MESSAGE_LIMIT = Gauge(
    "campaigner_rate_limit_messages_per_second",
    "The account's message (or segment) limit: kind=configured, or effective (lowered after 429s).",
    ["account", "kind"],
    registry=REGISTRY,
)
CAMPAIGN_JOBS = Gauge(
    "campaigner_campaign_jobs",
    "Jobs of each campaign the daemon carries, by state (pending: still to send).",
    ["campaign_id", "state"],
    registry=REGISTRY,
)
RECEIPTS = Counter(
    "campaigner_receipts",
    "Delivery receipts applied to a job, by final status.",
    ["account", "status"],
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "campaigner_build_info", "Always 1: the campaigner and Python that run.", ["version", "python"],
    registry=REGISTRY,
)  # fmt: skip
WEBHOOK_EVENTS = Counter(
    "campaigner_webhook_events", "Webhook events by type and verdict.", ["type", "verdict"], registry=REGISTRY
)
WEBHOOK_IGNORED = Counter(
    "campaigner_webhook_ignored",
    "Authenticated webhook records answered 200 but not used, by type and reason.",
    ["type", "reason"],
    registry=REGISTRY,
)
RECONCILIATIONS = Counter(
    "campaigner_reconciliations", "Reconciliation lookups by outcome.", ["outcome"], registry=REGISTRY
)
DISPATCH_LATENCY = Histogram(
    "campaigner_dispatch_latency_seconds",
    "Duration of send requests to the provider.",
    ["account"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0),
    registry=REGISTRY,
)
PARKED_RECEIPTS = Counter(
    "campaigner_parked_receipts",
    "Receipts kept until their job's submit was written: fate=applied, or expired after a day.",
    ["fate"],
    registry=REGISTRY,
)

CONFIRMATION_REPLIES = Counter(
    "campaigner_confirmation_replies",
    "Confirmation replies (kind=opt_out, opt_in, help) by outcome: sent, failed, skipped (the number "
    "is opted out), unknown (the send's outcome is not known: never resent), retried.",
    ["account", "kind", "outcome"],
    registry=REGISTRY,
)
CONFIRMATION_COST = Counter(
    "campaigner_confirmation_reply_segments",
    "Segments of the confirmation replies sent, by kind (their cost is in the reply outbox).",
    ["account", "kind"],
    registry=REGISTRY,
)

class _LateSlots:
    """campaigner_throttle_late_slots_total, read from the watched throttles at scrape time.

    A throttle counts its late wake-ups itself (plain ints on the hot path); a collector exports
    them as the counters they are, which a Gauge with set_function would not.
    """

    def __init__(self) -> None:
        self._throttles: dict[str, Any] = {}

    def watch(self, account: str, throttle: Any) -> None:
        self._throttles[account] = throttle

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "campaigner_throttle_late_slots",
            "Throttle slots woken for too late: fate=moved (sent at the wake-up) or retaken (a new slot).",
            labels=["account", "fate"],
        )
        for account, throttle in self._throttles.items():
            family.add_metric([account, "moved"], throttle.late_moved)
            family.add_metric([account, "retaken"], throttle.late_wakes)
        yield family


LATE_SLOTS = _LateSlots()
REGISTRY.register(LATE_SLOTS)

# A daemon carries one provider account; provider HTTP plumbing, which does not know the account,
# labels its requests with this one (`set_account`).
_process_account = "default"


def _installed_version() -> str:
    try:
        return version("campaigner")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


BUILD_INFO.labels(_installed_version(), platform.python_version()).set(1)


def render() -> bytes:
    """The registry in Prometheus text format."""
    return generate_latest(REGISTRY)


class AccountMetrics:
    """The per-account metrics, with their label children cached for the hot path."""

    def __init__(self, account: str) -> None:
        self.account = account
        self._outcomes: dict[str, Any] = {}
        self._latency = DISPATCH_LATENCY.labels(account)
        self._throttled = THROTTLED.labels(account)
        self._codes: dict[int, Any] = {}

    def on_send(self, seconds: float, results: Iterable[Any]) -> None:
        """One send request took `seconds` and gave `results` (SendResults): count them by outcome."""
        self._latency.observe(seconds)
        outcomes = self._outcomes
        for result in results:
            outcome = str(result.outcome)
            child = outcomes.get(outcome)
            if child is None:
                child = outcomes[outcome] = MESSAGES.labels(self.account, outcome)
            child.inc()

    def on_reply(self, status: int) -> None:
        """One HTTP reply from the provider with `status`."""
        child = self._codes.get(status)
        if child is None:
            child = self._codes[status] = PROVIDER_REQUESTS.labels(self.account, str(status))
        child.inc()
        if status == 429:
            self._throttled.inc()

    def watch_throttle(self, throttle: Any) -> None:
        """Export `throttle`'s configured and effective limits (read at scrape time)."""
        configured = throttle.configured
        REQUEST_LIMIT.labels(self.account, "configured").set(_per_second(configured.requests_per_minute))
        MESSAGE_LIMIT.labels(self.account, "configured").set(round(float(configured.messages_per_second), 6))
        REQUEST_LIMIT.labels(self.account, "effective").set_function(
            lambda: _per_second(throttle.requests_per_minute)
        )
        MESSAGE_LIMIT.labels(self.account, "effective").set_function(
            lambda: round(float(throttle.messages_per_second), 6)  # not 100.00000000000001
        )
        LATE_SLOTS.watch(self.account, throttle)


def _per_second(requests_per_minute: float) -> float:
    return round(float(requests_per_minute) / 60.0, 6)


_accounts: dict[str, AccountMetrics] = {}


def for_account(account: str) -> AccountMetrics:
    """The (cached) metrics of `account`."""
    found = _accounts.get(account)
    if found is None:
        found = _accounts[account] = AccountMetrics(account)
    return found


def set_account(account: str) -> None:
    """The provider account this process sends for (labels provider requests; see module doc)."""
    global _process_account
    _process_account = account


def provider_reply(status: int, account: str | None = None) -> None:
    """Count one HTTP reply from `account`'s provider (default: the process's account); called by
    providers/http.py for every request."""
    for_account(account or _process_account).on_reply(status)


# Every job state, so that a state a campaign has left reads 0 rather than its last count.
JOB_STATES = (
    "pending", "sending", "submitted", "delivered", "undelivered", "rejected", "skipped", "cancelled",
    "unknown", "expired",
)  # fmt: skip


def set_campaign_jobs(campaign_id: int, counts: dict[str, int]) -> None:
    """The jobs of `campaign_id` per state (the daemon sets them every second for what it carries)."""
    label = str(campaign_id)
    for state in JOB_STATES:
        CAMPAIGN_JOBS.labels(label, state).set(counts.get(state, 0))


def forget_campaign(campaign_id: int) -> None:
    """Drop the series of a campaign the daemon no longer carries (a second call is harmless)."""
    for state in JOB_STATES:
        try:
            CAMPAIGN_JOBS.remove(str(campaign_id), state)
        except KeyError:
            pass


def receipt_applied(account: str, status: str, n: int = 1) -> None:
    """Count `n` receipts that moved a job of `account` to `status` (delivered, undelivered)."""
    RECEIPTS.labels(account, status).inc(n)


_webhook_children: dict[tuple[str, str], Any] = {}


def webhook_event(kind: str, verdict: str, n: int = 1) -> None:
    """Count `n` webhook events of `kind` (status, inbound) with `verdict` (accepted, duplicate, ...)."""
    child = _webhook_children.get((kind, verdict))
    if child is None:
        child = _webhook_children[(kind, verdict)] = WEBHOOK_EVENTS.labels(kind, verdict)
    child.inc(n)


def webhook_ignored(kind: str, reason: str, n: int = 1) -> None:
    """Count `n` webhook records of `kind` ignored for `reason` (bad_id, bad_time, unknown_status, ...)."""
    WEBHOOK_IGNORED.labels(kind, reason).inc(n)


class ReconcileOutcomes(_Counter[str]):
    """A collections.Counter that also counts every increment in campaigner_reconciliations_total."""

    def __setitem__(self, key: str, value: int) -> None:
        delta = value - self.get(key, 0)
        super().__setitem__(key, value)
        if delta > 0:
            RECONCILIATIONS.labels(key).inc(delta)


def confirmation_reply(account: str, kind: str, outcome: str, segments: int = 0) -> None:
    """Count one confirmation reply of `kind` with `outcome` (and, once sent, its segments)."""
    CONFIRMATION_REPLIES.labels(account, kind, outcome).inc()
    if segments:
        CONFIRMATION_COST.labels(account, kind).inc(segments)
