"""The dashboard's pages over real HTTP: signing in, the session cookie, CSRF, the pages' content,
and a live update costing one database query."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import aiohttp

from campaigner.config import config_from_mapping
from campaigner.model.provider import Balance
from campaigner.model.states import CampaignState
from campaigner.store.store import Store
from tests.builders import make_campaign
from tests.web_helpers import TOKEN, serving_web

CONFIG = config_from_mapping({}, source="<test>")


async def _signed_in(session: aiohttp.ClientSession, base: str) -> None:
    async with session.get(f"{base}/login?token={TOKEN}", allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/"
        cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert TOKEN not in cookie  # the session is derived, not the token itself


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def test_sign_in_then_see_and_pause_a_campaign(store: Store) -> None:
    campaign_id = await make_campaign(store, 4)
    async with (
        serving_web(store, CONFIG) as base,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
    ):
        async with session.get(f"{base}/login?token=not-the-token-at-all") as resp:
            assert resp.status == 401 and "not the one" in await resp.text()
        await _signed_in(session, base)

        async with session.get(f"{base}/") as resp:
            page = await resp.text()
        assert resp.status == 200 and "test 4" in page and "no live worker" in page
        assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")
        async with session.get(f"{base}/campaigns/{campaign_id}") as resp:
            page = await resp.text()
        assert resp.status == 200
        for text in ("Hello {name}", "Per country", "Delivery latency", "<svg", 'id="count-pending">4<'):
            assert text in page, text

        async with session.get(f"{base}/campaigns/{campaign_id}/pause") as resp:
            confirm = await resp.text()
        assert "Pause campaign" in confirm
        key = re.search(r'name="idempotency_key" value="([^"]+)"', confirm)
        assert key
        form = {"idempotency_key": key.group(1)}
        # Without the CSRF token (a cross-site form): refused, nothing changes.
        async with session.post(f"{base}/campaigns/{campaign_id}/pause", data=form) as resp:
            assert resp.status == 403
        assert (await store.get_campaign(campaign_id)).state == CampaignState.RUNNING
        form["csrf"] = _csrf(confirm)
        async with session.post(
            f"{base}/campaigns/{campaign_id}/pause", data=form, allow_redirects=False
        ) as resp:
            assert resp.status == 303
        paused = await store.get_campaign(campaign_id)
        assert (paused.state, paused.reason) == (CampaignState.PAUSED, "paused from the dashboard")
        # The same form again (a double click) changes nothing more and is no error.
        async with session.post(
            f"{base}/campaigns/{campaign_id}/pause", data=form, allow_redirects=False
        ) as resp:
            assert resp.status == 303


async def test_a_live_update_is_one_query(store: Store) -> None:
    campaign_id = await make_campaign(store, 3)
    async with (
        serving_web(store, CONFIG) as base,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
    ):
        await _signed_in(session, base)
        calls: list[str] = []
        original = store.db.all

        async def counting(name: str, *args: Any) -> Any:
            calls.append(name)
            return await original(name, *args)

        store.db.all = counting  # type: ignore[method-assign]
        async with session.get(f"{base}/campaigns/{campaign_id}/live.json") as resp:
            live = await resp.json()
        async with session.get(f"{base}/campaigns/live.json") as resp:
            listed = await resp.json()
    assert calls == ["observe-campaigns", "observe-campaigns"]
    assert live["state"] == "running" and live["fields"]["count.pending"] == "3"
    assert "<svg" in live["html"]["timeline-chart"]
    assert listed["fields"][f"c{campaign_id}.state"] == "running"


async def test_accounts_and_suppressions_pages(store: Store) -> None:
    await store.add_suppressions(["+31612345678", "+31699999999"], "STOP reply", "inbound")
    await store.push_schedule("default:requests", 30)
    asked = 0

    async def balance() -> Balance | None:
        nonlocal asked
        asked += 1
        return Balance(Decimal("12.5"), "EUR")

    async with (
        serving_web(store, CONFIG, balance=balance) as base,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
    ):
        await _signed_in(session, base)
        async with session.get(f"{base}/suppressions?q=0031 6123") as resp:
            page = await resp.text()
        assert "+31612345678" in page and "inbound" in page and "+31699999999" not in page
        async with session.get(f"{base}/suppressions?q=%2B31612345678") as resp:
            page = await resp.text()
        assert 'id="consent-history"' in page and "manual_add" in page  # the whole number: its history
        async with session.get(f"{base}/accounts") as resp:
            page = await resp.text()
        assert "default:requests" in page and "60 per 60.0 s window" in page
        assert ">12.50 EUR<" in page
        async with session.get(f"{base}/accounts") as resp:
            assert resp.status == 200
        assert asked == 1  # a second view within five minutes asks the provider nothing
        # Signing out ends the session.
        async with session.get(f"{base}/") as resp:
            csrf = _csrf(await resp.text())
        async with session.post(f"{base}/logout", data={"csrf": csrf}, allow_redirects=False) as resp:
            assert resp.status == 303
        async with session.get(f"{base}/") as resp:
            assert resp.status == 401
