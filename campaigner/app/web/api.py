"""The HTTP API's routes (JSON), documented in `openapi.py` and served at /api/openapi.json.

Every route reads the facts of `campaigner.observe` and changes campaigns through the code the CLI
uses (`app/loading.py`, `app/lifecycle.py`, the store's guarded transitions), so the API and the
CLI cannot disagree. Every POST that creates or changes something takes an Idempotency-Key.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from campaigner.app import lifecycle
from campaigner.app.loading import CampaignSource, NothingToSend, load_campaign
from campaigner.app.web import idempotency
from campaigner.app.web.state import CONFIG, DATABASE_URL, STORE
from campaigner.app.web.uploads import FieldError, received_campaign
from campaigner.config import Config
from campaigner.errors import UserError
from campaigner.model.states import JobState
from campaigner.observe.facts import all_live_facts, campaign_facts, live_facts
from campaigner.observe.wait import no_worker_text
from campaigner.planning.planner import Planner, Preview
from campaigner.store.store import Store

BIGINT_MAX = 2**63 - 1
PAGE_DEFAULT = 100
PAGE_MAX = 1000


def campaign_id_of(request: web.Request) -> int:
    """The {id} of the path: a campaign id (1 to 2^63-1), or a FieldError naming `id`."""
    raw = request.match_info["id"]
    if not raw.isdigit() or not 1 <= int(raw) <= BIGINT_MAX:
        raise FieldError("id", f"id: {raw!r} is not a campaign id (a whole number from 1 to {BIGINT_MAX})")
    return int(raw)


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise FieldError(name, f"{name}: {raw!r} is not a whole number from {low} to {high}")
    return int(raw)


async def list_campaigns(request: web.Request) -> web.Response:
    """GET /api/campaigns: every campaign's live facts, oldest first."""
    facts = await all_live_facts(request.app[STORE], request.app[CONFIG])
    return web.json_response({"campaigns": [f.to_json() for f in facts]})


async def get_campaign(request: web.Request) -> web.Response:
    """GET /api/campaigns/{id}: everything about one campaign."""
    facts = await campaign_facts(request.app[STORE], request.app[CONFIG], campaign_id_of(request))
    return web.json_response(facts.to_json())


async def get_timeline(request: web.Request) -> web.Response:
    """GET /api/campaigns/{id}/timeline: jobs that arrived in each state, per minute."""
    campaign_id = campaign_id_of(request)
    store = request.app[STORE]
    await store.get_campaign(campaign_id)  # 404 for an unknown id, not an empty timeline
    points = await store.campaign_timeline(campaign_id)
    return web.json_response(
        {
            "id": campaign_id,
            "timeline": [{"minute": p.minute.isoformat(), "state": p.state, "jobs": p.jobs} for p in points],
        }
    )


async def get_jobs(request: web.Request) -> web.Response:
    """GET /api/campaigns/{id}/jobs?state=&after=&limit=: a page of jobs by id."""
    campaign_id = campaign_id_of(request)
    state = request.query.get("state") or None
    if state is not None and state not in set(JobState):
        choices = ", ".join(JobState)
        raise FieldError("state", f"state: {state!r} is not a job state (choose from {choices})")
    after = _int_param(request, "after", 0, 0, BIGINT_MAX)
    limit = _int_param(request, "limit", PAGE_DEFAULT, 1, PAGE_MAX)
    store = request.app[STORE]
    await store.get_campaign(campaign_id)
    rows = await store.campaign_jobs(campaign_id, state, after, limit)
    jobs = [
        {
            "id": j.id,
            "line": j.line,
            "e164": j.e164,
            "country": j.country,
            "state": j.state,
            "attempts": j.attempts,
            "segments": j.segments,
            "cost": float(j.cost),
            "provider_id": j.provider_id,
            "error_code": j.error_code,
            "error_class": j.error_class,
            "error_message": j.error_message,
            "submitted_at": j.submitted_at.isoformat() if j.submitted_at else None,
            "finished_at": j.finished_at.isoformat() if j.finished_at else None,
        }
        for j in rows
    ]
    return web.json_response({"jobs": jobs, "next_after": rows[-1].id if len(rows) == limit else None})


async def preview(request: web.Request) -> web.Response:
    """POST /api/preview: what the campaign would be (a dry run: nothing is stored)."""
    config = request.app[CONFIG]
    async with received_campaign(request, config.api.max_upload_bytes) as form:
        source = form.source()
        config = form.account_config(config)
        consented = None
        if config.consent.require_opt_in:  # counted as no_consent, as `preview` counts them
            consented = await request.app[STORE].consented_numbers(config.provider.sender)
        try:
            result = await asyncio.to_thread(_plan_only, config, source, consented)
        except UserError as exc:
            raise form.input_error(exc) from None
        result.file = form.tidy(result.file)
    return web.json_response(result.model_dump(mode="json"))


async def create_campaign(request: web.Request) -> web.Response:
    """POST /api/campaigns[?start=true]: a draft (or scheduled) campaign from the CSV, with its preview."""
    key = idempotency.check_key(request.headers.get(idempotency.HEADER))
    start = request.query.get("start", "false").lower()
    if start not in ("true", "false"):
        raise FieldError("start", f"start: {start!r} is not true or false")
    app = request.app
    config = app[CONFIG]
    async with received_campaign(request, config.api.max_upload_bytes) as form:
        source = form.source()
        config = form.account_config(config)
        request_hash = idempotency.fingerprint(
            "POST /api/campaigns", f"start={start}", *form.fingerprint_parts()
        )

        async def action() -> idempotency.Answer:
            try:
                campaign_id, planned = await asyncio.to_thread(_load, app[DATABASE_URL], config, source)
            except NothingToSend as exc:
                exc.preview.file = form.tidy(exc.preview.file)
                return 422, {
                    "error": form.tidy(str(exc)),
                    "field": "recipients",
                    "preview": exc.preview.model_dump(mode="json"),
                }
            except UserError as exc:
                raise form.input_error(exc) from None
            planned.file = form.tidy(planned.file)
            return 201, await _created(app[STORE], config, campaign_id, planned, start == "true")

        (status, body), replayed = await idempotency.once(app[STORE], key, request_hash, action)
    return _answer(status, body, replayed)


def _action(
    change: Callable[[Store, Config, int, dict[str, Any]], Awaitable[dict[str, Any]]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A POST /api/campaigns/{id}/<verb> route: idempotent, answering the campaign's live facts."""

    async def route(request: web.Request) -> web.Response:
        key = idempotency.check_key(request.headers.get(idempotency.HEADER))
        campaign_id = campaign_id_of(request)
        body = await _json_body(request)
        store, config = request.app[STORE], request.app[CONFIG]
        request_hash = idempotency.fingerprint(request.method, request.path, repr(sorted(body.items())))

        async def action() -> idempotency.Answer:
            extra = await change(store, config, campaign_id, body)
            live = await live_facts(store, config, campaign_id)
            return 200, {**live.to_json(), **extra}

        (status, answer), replayed = await idempotency.once(store, key, request_hash, action)
        return _answer(status, answer, replayed)

    return route


async def _pause(store: Store, config: Config, campaign_id: int, body: dict[str, Any]) -> dict[str, Any]:
    reason = body.get("reason", "paused from the API")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise FieldError("reason", "reason: a text of 1 to 500 characters")
    await store.pause_campaign(campaign_id, reason)
    return {}


async def _resume(store: Store, config: Config, campaign_id: int, body: dict[str, Any]) -> dict[str, Any]:
    await store.resume_campaign(campaign_id)
    return {}


async def _cancel(store: Store, config: Config, campaign_id: int, body: dict[str, Any]) -> dict[str, Any]:
    done = await lifecycle.cancel(store, campaign_id)
    return {"cancelled": done.cancelled, "with_provider": done.with_provider, "in_flight": done.sending}


async def _retry(store: Store, config: Config, campaign_id: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"put_back": await lifecycle.retry_for_daemon(store, config, campaign_id)}


pause = _action(_pause)
resume = _action(_resume)
cancel = _action(_cancel)
retry = _action(_retry)


async def _json_body(request: web.Request) -> dict[str, Any]:
    """An action's optional JSON object body ({} when there is none)."""
    if not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise FieldError("body", "the request body is not JSON") from None
    if not isinstance(value, dict):
        raise FieldError("body", "the request body must be a JSON object")
    return value


def _answer(status: int, body: Any, replayed: bool) -> web.Response:
    headers = {idempotency.REPLAYED: "true"} if replayed else {}
    return web.json_response(body, status=status, headers=headers)


async def _created(
    store: Store, config: Config, campaign_id: int, planned: Preview, start: bool
) -> dict[str, Any]:
    if start:
        await store.resume_campaign(campaign_id)
    live = await live_facts(store, config, campaign_id)
    warnings = []
    if start and not live.workers.live:
        warnings.append(no_worker_text(campaign_id))
    return {
        "id": campaign_id,
        "state": str(live.state),
        "preview": planned.model_dump(mode="json"),
        "warnings": warnings,
    }


def _plan_only(config: Config, source: CampaignSource, consented: set[str] | None = None) -> Preview:
    options = source.plan_options(config)
    planner = Planner(config, options, consented=consented)
    for _batch in planner.batches():
        pass
    return planner.preview


def _load(database_url: str, config: Config, source: CampaignSource) -> tuple[int, Preview]:
    """Load on a thread of its own, with its own connection: a big CSV does not stall the daemon."""

    async def main() -> tuple[int, Preview]:
        store = await Store.open_url(database_url, migrate=False, max_size=2)
        try:
            return await load_campaign(store, config, source)
        finally:
            await store.close()

    return asyncio.run(main())
