"""A number's consent on the dashboard and the HTTP API: its ledger rows, whether it is listed
now (and for which scope), and the confirmation replies it was owed, as `suppress history` shows.

GET /api/suppressions/{number} answers JSON; the suppressions page (/suppressions?q=NUMBER) shows
the same below the list when the search is a whole number. A number that does not parse is a 400
naming `number`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from campaigner.app.web.state import CONFIG, STORE
from campaigner.app.web.uploads import FieldError
from campaigner.config import Config
from campaigner.planning.phones import INVALID, PhoneClassifier
from campaigner.store.store import Store

_LEDGER = ("id", "action", "source", "sender", "occurred_at", "recorded_at", "campaign_id", "detail")
_REPLIES = ("kind", "state", "language", "body", "segments", "cost", "inbound_provider_id", "provider_id",
            "error_code", "created_at", "sent_at")  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def number_of(config: Config, raw: str) -> str | None:
    """`raw` as E.164 (national numbers in recipients.default_region), or None."""
    result = PhoneClassifier(config.recipients.default_region, ()).classify(raw)
    return None if result.status == INVALID else result.e164


async def consent_of(store: Store, e164: str) -> dict[str, Any]:
    """Everything recorded about `e164`'s consent, as JSON values."""
    listed = [s.sender or "account" for s in await store.list_suppressions() if s.e164 == e164]
    return {
        "e164": e164,
        "suppressed": listed,
        "history": [{k: _plain(r[k]) for k in _LEDGER} for r in await store.consent_history(e164)],
        "replies": [{k: _plain(r[k]) for k in _REPLIES} for r in await store.replies_to(e164)],
    }


async def get_suppression(request: web.Request) -> web.Response:
    """GET /api/suppressions/{number}: one number's consent history."""
    raw = request.match_info["number"]
    e164 = number_of(request.app[CONFIG], raw)
    if e164 is None:
        raise FieldError("number", f"number: {raw!r} is not a phone number")
    return web.json_response(await consent_of(request.app[STORE], e164))
