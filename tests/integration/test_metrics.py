"""/metrics: the expected families, parsed with prometheus-client's own parser, with the right values."""

from __future__ import annotations

import json
import platform
from importlib.metadata import version
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from campaigner import metrics
from campaigner.app.http import build_http_app
from campaigner.config import Secret
from campaigner.dispatch.throttle import Limits, Throttle
from campaigner.model.jobs import JobResult
from campaigner.model.provider import Outcome, SendResult
from campaigner.model.states import JobState
from campaigner.providers.registry import make_provider
from campaigner.providers.webhooks import sign
from campaigner.sandbox import RunningSandbox
from campaigner.store.store import Store
from tests.builders import create_running_campaign, numbers
from tests.dispatch_helpers import API_KEY_ENV, WEBHOOK_SECRET_ENV, sandbox_config
from tests.http_helpers import Client, serving

SECRET = "metrics-test-secret"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "17|sandbox-full-access-key")
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, SECRET)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(client: Client) -> tuple[str, dict[Any, float]]:
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    return text, samples(text)


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_families_and_values_after_some_events(store: Store, sandbox: RunningSandbox) -> None:
    config = sandbox_config(sandbox, provider={"account": "metrics-acct"})
    provider = make_provider(config.provider)
    try:
        async with serving(store, config, provider) as client:
            _, before = await scrape(client.admin)

            # Webhooks: one unknown non-final receipt, one forged, one bad JSON; one final receipt
            # of a submitted job of this account.
            campaign_id = await create_running_campaign(store, numbers(1), account="metrics-acct")
            [job] = await store.claim_jobs(campaign_id, "w:1:x", 1, 60.0)
            await store.record_results("w:1:x", [JobResult(job.id, JobState.SUBMITTED, provider_id="m-9")])
            delivered = json.dumps(
                {"event": "sms.status_updated", "data": {"id": "m-9", "status": "delivered"}}
            ).encode()
            signed_delivered = {"X-Cliqtel-Signature": sign(delivered, Secret(SECRET))}
            reply = await client.post("/webhooks/cliqtel/status", data=delivered, headers=signed_delivered)
            assert reply.status == 200
            body = json.dumps(
                {"event": "sms.status_updated", "data": {"id": "m-1", "status": "sent"}}
            ).encode()
            good = {"X-Cliqtel-Signature": sign(body, Secret(SECRET))}
            assert (await client.post("/webhooks/cliqtel/status", data=body, headers=good)).status == 200
            bad = {"X-Cliqtel-Signature": sign(body, Secret("wrong"))}
            assert (await client.post("/webhooks/cliqtel/status", data=body, headers=bad)).status == 401
            broken = b"{not json"
            signed = {"X-Cliqtel-Signature": sign(broken, Secret(SECRET))}
            assert (await client.post("/webhooks/cliqtel/status", data=broken, headers=signed)).status == 400

            # The dispatcher's calls: one request of three results, 0.3 s; a 429 and a 202 reply.
            account = metrics.for_account("metrics-acct")
            results = [
                SendResult(1, Outcome.ACCEPTED, "p1"),
                SendResult(2, Outcome.ACCEPTED, "p2"),
                SendResult(3, Outcome.TRANSIENT, code="503"),
            ]
            account.on_send(0.3, results)
            metrics.provider_reply(429)
            metrics.provider_reply(202)
            throttle = Throttle(Limits(120, 7))
            throttle.late_moved, throttle.late_wakes = 3, 1
            account.watch_throttle(throttle)
            metrics.set_campaign_jobs(42, {"pending": 1234, "delivered": 5})
            outcomes = metrics.ReconcileOutcomes()
            outcomes["found"] += 1
            outcomes["found"] += 1
            outcomes["not_found"] += 1

            text, after = await scrape(client.admin)
    finally:
        await provider.close()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    families = {f.name for f in text_string_to_metric_families(text)}
    assert {
        "campaigner_messages",
        "campaigner_provider_requests",
        "campaigner_provider_throttled",
        "campaigner_rate_limit_requests_per_second",
        "campaigner_rate_limit_messages_per_second",
        "campaigner_campaign_jobs",
        "campaigner_receipts",
        "campaigner_build_info",
        "process_cpu_seconds",
        "process_resident_memory_bytes",
        "campaigner_webhook_events",
        "campaigner_reconciliations",
        "campaigner_dispatch_latency_seconds",
        "campaigner_throttle_late_slots",
    } <= families
    acct = "metrics-acct"
    assert delta("campaigner_webhook_events_total", type="status", verdict="ignored") == 1
    assert delta("campaigner_webhook_events_total", type="status", verdict="rejected_signature") == 1
    assert delta("campaigner_webhook_events_total", type="status", verdict="bad_json") == 1
    assert delta("campaigner_messages_total", account=acct, outcome="accepted") == 2
    assert delta("campaigner_messages_total", account=acct, outcome="transient") == 1
    assert delta("campaigner_provider_requests_total", account=acct, code="429") == 1
    assert delta("campaigner_provider_requests_total", account=acct, code="202") == 1
    assert delta("campaigner_provider_throttled_total", account=acct) == 1
    assert delta("campaigner_dispatch_latency_seconds_count", account=acct) == 1
    assert delta("campaigner_dispatch_latency_seconds_sum", account=acct) == pytest.approx(0.3)
    assert delta("campaigner_dispatch_latency_seconds_bucket", account=acct, le="0.25") == 0
    assert delta("campaigner_dispatch_latency_seconds_bucket", account=acct, le="0.5") == 1
    assert value(after, "campaigner_rate_limit_requests_per_second", account=acct, kind="configured") == 2
    assert value(after, "campaigner_rate_limit_messages_per_second", account=acct, kind="effective") == 7
    assert value(after, "campaigner_campaign_jobs", campaign_id="42", state="pending") == 1234
    assert value(after, "campaigner_campaign_jobs", campaign_id="42", state="delivered") == 5
    assert ("campaigner_campaign_jobs", (("campaign_id", "42"), ("state", "skipped"))) in after  # a 0
    assert delta("campaigner_receipts_total", account=acct, status="delivered") == 1
    assert value(after, "campaigner_build_info", version=version("campaigner"),
                 python=platform.python_version()) == 1  # fmt: skip
    # Prometheus' conventions: no precomputed rates, no _created series, one unit per metric.
    assert not {"campaigner_send_rate", "campaigner_rate_limit", "campaigner_queue_depth"} & families
    assert "_created" not in text
    assert value(after, "campaigner_throttle_late_slots_total", account=acct, fate="moved") == 3
    assert value(after, "campaigner_throttle_late_slots_total", account=acct, fate="retaken") == 1
    assert delta("campaigner_reconciliations_total", outcome="found") == 2
    assert delta("campaigner_reconciliations_total", outcome="not_found") == 1
    assert dict(outcomes) == {"found": 2, "not_found": 1}  # still a plain Counter to its owner


async def test_apps_can_be_built_repeatedly_and_forgotten_campaigns_leave(
    store: Store, sandbox: RunningSandbox
) -> None:
    config = sandbox_config(sandbox)
    provider = make_provider(config.provider)
    try:
        for _ in range(3):
            # No "Duplicated timeseries" from a second build.
            build_http_app(store, {config.provider.account: provider}, config)
        metrics.set_campaign_jobs(7, {"pending": 3})
        metrics.forget_campaign(7)
        metrics.forget_campaign(7)  # twice is fine
        assert b'campaign_id="7"' not in metrics.render()
    finally:
        await provider.close()


def test_every_job_state_has_its_series() -> None:
    assert set(metrics.JOB_STATES) == {str(state) for state in JobState}


def test_the_example_grafana_dashboard_reads_only_metrics_we_export() -> None:
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).parents[2] / "docs" / "grafana-dashboard.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    expressions += [v["query"] for v in dashboard["templating"]["list"]]
    used = {name for e in expressions for name in re.findall(r"\b((?:campaigner|process)_[a-z_]+)\b", e)}
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    exported = {f.name + end for f in metrics.REGISTRY.collect() for end in suffixes.get(f.type, ("",))}
    assert used and used <= exported, sorted(used - exported)
