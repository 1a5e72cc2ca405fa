"""The dashboard's pages: server-rendered HTML (templates/), live figures from a small script.

Pages: / (campaigns), /campaigns/{id} (one campaign), /accounts, /suppressions. A campaign page
and the list poll their `live.json` once a second while the tab is visible (static/dashboard.js);
each answer is one database query (`observe-campaigns`), charts included, drawn here as SVG.
Actions (pause, resume, cancel, retry failed) go through a confirmation page whose form carries
the session's CSRF token and an idempotency key, and change the campaign as the API does.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import jinja2
from aiohttp import web

from campaigner import metrics
from campaigner.app import lifecycle
from campaigner.app.web import idempotency
from campaigner.app.web.api import campaign_id_of
from campaigner.app.web.auth import CSRF_FIELD, SESSION_COOKIE
from campaigner.app.web.consent import consent_of, number_of
from campaigner.app.web.state import BALANCE, CONFIG, GUARD, STORE
from campaigner.model.states import CampaignState, JobState
from campaigner.observe.charts import Series, bar_chart, time_chart, timeline_series
from campaigner.observe.facts import (
    LIVE_TIMELINE_MINUTES,
    LiveFacts,
    all_live_facts,
    campaign_facts,
    live_facts,
)
from campaigner.planning.pricing import eta_seconds

SUPPRESSION_ROWS = 100

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("campaigner.app.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# What each action is called, which states allow it, and what the confirmation says it does.
ACTIONS: dict[str, tuple[str, frozenset[CampaignState], str]] = {
    "pause": (
        "Pause",
        frozenset({CampaignState.RUNNING, CampaignState.SCHEDULED}),
        "Nothing more is sent until it is resumed; messages in flight finish.",
    ),
    "resume": (
        "Resume",
        frozenset({CampaignState.PAUSED, CampaignState.DRAFT}),
        "It starts (or goes on) sending, carried by the daemon.",
    ),
    "cancel": (
        "Cancel",
        frozenset(
            {CampaignState.DRAFT, CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.PAUSED}
        ),
        "Every message not yet sent is cancelled for good. This cannot be undone.",
    ),
    "retry": (
        "Retry failed",
        frozenset(
            {CampaignState.RUNNING, CampaignState.PAUSED, CampaignState.COMPLETED, CampaignState.FAILED}
        ),
        "Messages rejected for reasons that can be fixed (transient, account, funds) are sent again; "
        "opt-outs and bad numbers never are.",
    ),
}


def add_routes(app: web.Application) -> None:
    """The dashboard's routes on `app`."""
    app.router.add_get("/", campaigns_page)
    app.router.add_get("/campaigns/live.json", campaigns_live)
    app.router.add_get("/campaigns/{id}", campaign_page)
    app.router.add_get("/campaigns/{id}/live.json", campaign_live)
    app.router.add_get("/campaigns/{id}/{verb:pause|resume|cancel|retry}", confirm_page)
    app.router.add_post("/campaigns/{id}/{verb:pause|resume|cancel|retry}", do_action)
    app.router.add_get("/accounts", accounts_page)
    app.router.add_get("/suppressions", suppressions_page)


def _render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    guard = request.app[GUARD]
    nonce = guard.session_nonce(request.cookies.get(SESSION_COOKIE))
    csrf = guard.csrf_token(nonce) if nonce else ""
    html = _ENV.get_template(template).render(
        csrf=csrf, csrf_field=CSRF_FIELD, signed_in=nonce is not None, fmt=_Format, **values
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def login_page(request: web.Request, status: int = 200, failed: bool = False) -> web.Response:
    """The sign-in form (nothing else: it is what anyone without a session sees)."""
    return _render(request, "login.html", status=status, failed=failed)


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    """A short error page (its message never names anything the caller could not see)."""
    return _render(request, "error.html", status=status, status_code=status, message=message)


# -- campaigns list ----------------------------------------------------------------------------


async def campaigns_page(request: web.Request) -> web.Response:
    facts = await all_live_facts(request.app[STORE], request.app[CONFIG])
    return _render(request, "campaigns.html", campaigns=facts, live=[_list_fields(f) for f in facts])


async def campaigns_live(request: web.Request) -> web.Response:
    facts = await all_live_facts(request.app[STORE], request.app[CONFIG])
    fields: dict[str, str] = {}
    for f in facts:
        fields.update(_list_fields(f))
    return web.json_response({"fields": fields, "states": {str(f.id): str(f.state) for f in facts}})


def _list_fields(f: LiveFacts) -> dict[str, str]:
    p = f"c{f.id}."
    return {
        p + "state": str(f.state),
        p + "progress": _Format.percent(f.progress),
        p + "done": f"{f.done:,} of {f.total:,}",
        p + "cost": f"{_Format.money(f.cost_so_far)} / {_Format.money(f.estimated_cost)} {f.currency}",
        p + "rate": _Format.rate(f.rate),
        p + "eta": _Format.duration(f.eta_seconds),
        p + "carriers": _carriers_text(f),
        p + "wait": f.wait.text if f.wait else "",
    }


def _carriers_text(f: LiveFacts) -> str:
    if f.workers.note:
        return f.workers.note
    holding = [w.id for w in f.workers.live if w.holds_jobs]
    if holding:
        return ", ".join(holding)
    return (
        f"{len(f.workers.live)} live worker{'s' if len(f.workers.live) != 1 else ''}"
        if f.workers.live
        else "-"
    )


# -- one campaign ------------------------------------------------------------------------------


async def campaign_page(request: web.Request) -> web.Response:
    campaign_id = campaign_id_of(request)
    store, config = request.app[STORE], request.app[CONFIG]
    facts = await campaign_facts(store, config, campaign_id)
    live = facts.live
    # The chart shows the hour its live updates redraw (the whole timeline is in the API).
    since = live.as_of - timedelta(minutes=LIVE_TIMELINE_MINUTES)
    charts = _charts(live, [p for p in facts.timeline if p.minute > since])
    latency = bar_chart(
        [
            (name, value)
            for name, value in (
                ("p50", facts.latency.p50),
                ("p95", facts.latency.p95),
                ("p99", facts.latency.p99),
            )
            if value is not None
        ],
        title="Delivery latency (receipt after submission)",
        unit=" s",
        chart_id="lat",
    )
    clicks_chart = ""
    if facts.clicks is not None:
        clicks_chart = time_chart(
            [
                Series("clicks", [(m.minute, float(m.clicks)) for m in facts.clicks.timeline]),
                Series("first clicks", [(m.minute, float(m.first_clicks)) for m in facts.clicks.timeline]),
            ],
            title="Clicks per minute (people; first clicks of a link)",
            chart_id="clk",
        )
    actions = [(verb, label) for verb, (label, states, _) in ACTIONS.items() if live.state in states]
    return _render(
        request,
        "campaign.html",
        clicks_chart=clicks_chart,
        f=facts,
        live=live,
        fields=_campaign_fields(live),
        charts=charts,
        latency_chart=latency,
        actions=actions,
        states=[str(s) for s in JobState],
    )


async def campaign_live(request: web.Request) -> web.Response:
    campaign_id = campaign_id_of(request)
    live = await live_facts(
        request.app[STORE], request.app[CONFIG], campaign_id, timeline_minutes=LIVE_TIMELINE_MINUTES
    )
    return web.json_response(
        {
            "state": str(live.state),
            "fields": _campaign_fields(live),
            "values": {"progress": live.progress},
            "html": _charts(live, live.timeline or ()),
        }
    )


def _campaign_fields(live: LiveFacts) -> dict[str, str]:
    fields = {f"count.{state}": f"{n:,}" for state, n in live.counts.items()}
    fields.update(
        {
            "state": str(live.state),
            "reason": live.reason or "",
            "wait": live.wait.text if live.wait else "sending",
            "progress": _Format.percent(live.progress),
            "done": f"{live.done:,} of {live.total:,}",
            "cost": f"{_Format.money(live.cost_so_far)} of {_Format.money(live.estimated_cost)} "
            f"{live.currency}",
            "rate": _Format.rate(live.rate),
            "limit": _Format.rate(live.rate_limit) if live.rate_limit is not None else "not known",
            "eta": _Format.duration(live.eta_seconds),
            "carriers": _carriers_text(live),
            "workers": "; ".join(
                f"{w.id} on {w.hostname} (pid {w.pid}), heartbeat {w.heartbeat_age_seconds:.0f} s ago"
                + (", holds jobs of it" if w.holds_jobs else "")
                for w in live.workers.live
            )
            or (live.workers.note or "no live worker"),
            "as_of": f"{live.as_of:%H:%M:%S}",
        }
    )
    return fields


def _charts(live: LiveFacts, timeline: Any) -> dict[str, str]:
    series = timeline_series(
        list(timeline), {"submitted": "sent", "delivered": "delivered", "rejected": "rejected"}
    )
    bars = [("rate now", live.rate)]
    return {
        "timeline-chart": time_chart(series, title="Messages per minute, the last hour", chart_id="tl"),
        "rate-chart": bar_chart(
            bars, title="Rate now (messages a second)", unit="/s", limit=live.rate_limit, chart_id="rt"
        ),
    }


# -- actions -----------------------------------------------------------------------------------


async def confirm_page(request: web.Request) -> web.Response:
    campaign_id = campaign_id_of(request)
    verb = request.match_info["verb"]
    campaign = await request.app[STORE].get_campaign(campaign_id)
    label, _states, meaning = ACTIONS[verb]
    return _render(
        request,
        "confirm.html",
        campaign=campaign,
        verb=verb,
        label=label,
        meaning=meaning,
        key=str(uuid.uuid4()),
    )


async def do_action(request: web.Request) -> web.StreamResponse:
    campaign_id = campaign_id_of(request)
    verb = request.match_info["verb"]
    form = await request.post()
    key = idempotency.check_key(str(form.get("idempotency_key", "")) or None)
    store, config = request.app[STORE], request.app[CONFIG]
    request_hash = idempotency.fingerprint("dashboard", verb, str(campaign_id))

    async def action() -> idempotency.Answer:
        if verb == "pause":
            await store.pause_campaign(campaign_id, "paused from the dashboard")
        elif verb == "resume":
            await store.resume_campaign(campaign_id)
        elif verb == "cancel":
            await lifecycle.cancel(store, campaign_id)
        else:
            await lifecycle.retry_for_daemon(store, config, campaign_id)
        return 200, {"id": campaign_id, "verb": verb}

    await idempotency.once(store, key, request_hash, action)
    raise web.HTTPSeeOther(location=f"/campaigns/{campaign_id}")


# -- accounts and suppressions -----------------------------------------------------------------


async def accounts_page(request: web.Request) -> web.Response:
    store, config = request.app[STORE], request.app[CONFIG]
    names = sorted({config.provider.account, *await store.account_names()})
    accounts = []
    for name in names:
        provider = config.provider if name == config.provider.account else None
        throttled = metrics.REGISTRY.get_sample_value(
            "campaigner_provider_throttled_total", {"account": name}
        )
        limits = None
        if provider is not None:
            limits = {
                "type": provider.type,
                "requests_per_minute": provider.requests_per_minute,
                "request_window": provider.request_window,
                "messages_per_second": provider.messages_per_second,
                "recipients_per_request": provider.recipients_per_request,
                "rate_counts_segments": provider.rate_counts_segments,
                "ceiling": 1000 / eta_seconds(1000, 1000, provider),
            }
        balance = None
        if provider is not None and BALANCE in request.app:
            balance = await request.app[BALANCE].get()
        accounts.append(
            {
                "name": name,
                "limits": limits,
                "balance": balance,
                "schedules": await store.account_schedules(name),
                "throttled": None if throttled is None else int(throttled),
            }
        )
    return _render(request, "accounts.html", accounts=accounts)


async def suppressions_page(request: web.Request) -> web.Response:
    store = request.app[STORE]
    query = request.query.get("q", "").strip()
    # As typed: spaces, dashes and a 00 international prefix are all the E.164 the list holds.
    prefix = "".join(ch for ch in query if ch.isdigit() or ch == "+")
    if prefix.startswith("00"):
        prefix = prefix[2:]
    if prefix and not prefix.startswith("+"):
        prefix = "+" + prefix
    rows = await store.find_suppressions(prefix, SUPPRESSION_ROWS) if prefix else []
    # A whole number: its consent history and replies too (the same as `suppress history`).
    e164 = number_of(request.app[CONFIG], prefix) if len(prefix) >= 8 else None
    consent = await consent_of(store, e164) if e164 else None
    return _render(
        request,
        "suppressions.html",
        query=query,
        prefix=prefix,
        rows=rows,
        total=await store.count_suppressions(),
        limit=SUPPRESSION_ROWS,
        consent=consent,
        replies=await store.reply_outbox_totals(request.app[CONFIG].provider.account),
    )


class _Format:
    """How the pages write figures (the same on first render and in live updates)."""

    @staticmethod
    def money(value: Decimal | float) -> str:
        return f"{float(value):,.2f}"

    @staticmethod
    def percent(value: float) -> str:
        return f"{value:.1%}"

    @staticmethod
    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:,.2f}/s"

    @staticmethod
    def duration(seconds: float | None) -> str:
        if seconds is None:
            return "none while nothing sends"
        seconds = round(seconds)
        if seconds < 90:
            return f"about {seconds} s"
        if seconds < 5400:
            return f"about {round(seconds / 60)} min"
        return f"about {seconds / 3600:.1f} h"

    @staticmethod
    def when(value: datetime | None) -> str:
        return "-" if value is None else value.isoformat(timespec="seconds")
