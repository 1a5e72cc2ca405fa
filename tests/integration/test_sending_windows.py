"""Sending windows per country and the opt-out footer, through the real sandbox and PostgreSQL.

The account's per-country hours are set around the wall clock (New York inside its window now,
Amsterdam two hours before its window opens), so the test holds whatever time it runs at.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from campaigner.app.loading import CampaignSource, load_campaign
from campaigner.cli.status_view import window_lines
from campaigner.dispatch.quiet_hours import windows_for
from campaigner.observe.facts import campaign_facts
from campaigner.store.store import Store
from tests.dispatch_helpers import API_KEY_ENV, runner_for, sandbox_config, wait_for
from tests.fixtures.sandbox import MakeSandbox
from tests.web_helpers import TOKEN, serving_web

FOOTER = "Reply STOP to opt out"
# 150 GSM-7 characters: one segment alone, two with the footer's line.
MESSAGE = "Spring sale: everything 20% off this week only, in every shop and online. " + "x" * 76
AMERICANS = [f"+1212555{1000 + i}" for i in range(3)]
DUTCH = [f"+3161{2000000 + i:07d}" for i in range(3)]


@pytest.fixture(autouse=True)
def _sandbox_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "17|sandbox-full-access-key")


def _window(zone: str, from_hours: float, to_hours: float) -> str:
    local = datetime.now(UTC).astimezone(ZoneInfo(zone))
    start, end = local + timedelta(hours=from_hours), local + timedelta(hours=to_hours)
    return f"{start:%H:%M}-{end:%H:%M}"


async def test_a_job_outside_its_country_window_waits_while_one_inside_is_sent_with_the_footer(
    store: Store, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox(requests_per_minute=600, request_window=6.0, messages_per_second=100)
    compliance = {
        "quiet_hours": "country",
        "quiet_hours_countries": {
            "US": _window("America/New_York", -1, 1),
            "NL": _window("Europe/Amsterdam", 2, 3),
        },
        "opt_out_footer": FOOTER,
    }
    config = sandbox_config(sandbox, compliance=compliance)
    csv = tmp_path / "recipients.csv"
    csv.write_text("phone\n" + "\n".join(AMERICANS + DUTCH) + "\n", encoding="utf-8")
    source = CampaignSource(recipients=csv, message=MESSAGE, message_source="message")

    campaign_id, preview = await load_campaign(store, config, source)

    # The preview counts and prices the footer: two segments a message instead of one.
    assert preview.footer == FOOTER
    assert preview.segments_total == 2 * 6
    assert {line.country: line.segments for line in preview.by_country} == {"US": 6, "NL": 6}

    await store.resume_campaign(campaign_id)
    async with runner_for(store, config, campaign_id) as runner:
        task = asyncio.create_task(runner.run())

        async def americans_sent() -> bool:
            return (await store.job_counts(campaign_id)).get("submitted", 0) == len(AMERICANS)

        await wait_for(americans_sent, 20, "the New York recipients, inside their window")
        facts = await campaign_facts(store, config, campaign_id)
        runner.stop()
        await asyncio.wait_for(task, 10)

    # Only the Americans got a message, and it ends with the footer on a line of its own.
    received = sandbox.state.store.by_to
    assert sorted(received) == sorted(AMERICANS)
    for number in AMERICANS:
        [sent] = received[number]
        assert sent.body == f"{MESSAGE}\n{FOOTER}"
        assert sent.segments == 2
    assert await store.job_counts(campaign_id) == {"submitted": 3, "pending": 3}

    # The Dutch jobs wait, unsent and not charged an attempt, until Amsterdam's window opens.
    windows = windows_for(await store.get_campaign(campaign_id), config)
    now = datetime.now(UTC)
    opening = now + timedelta(seconds=windows.seconds_until_allowed(DUTCH[0], now) or 0)
    assert opening - now > timedelta(hours=1, minutes=50)
    jobs = [await store.get_job(i) for i in range(1, 7)]
    held = [job for job in jobs if job is not None and job.e164 in DUTCH]
    assert len(held) == 3
    for job in held:
        assert job.attempts == 0
        assert abs((job.next_attempt_at - opening).total_seconds()) < 120

    # What status, the dashboard and the API show: the Netherlands closed, 3 waiting, and when it opens.
    by_country = {w.country: w for w in facts.windows}
    assert by_country["NL"].open_now is False and by_country["NL"].waiting == 3
    assert by_country["NL"].opens_at is not None
    assert abs((by_country["NL"].opens_at - opening).total_seconds()) < 120
    assert "US" not in by_country or by_country["US"].waiting == 0
    [line] = [line for line in window_lines(facts) if line.startswith("window NL")]
    assert line.startswith("window NL: closed, opens ") and "; 3 waiting (" in line
    async with (
        serving_web(store, config) as base,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
    ):
        async with session.get(f"{base}/login?token={TOKEN}") as resp:
            assert resp.status == 200
        async with session.get(f"{base}/campaigns/{campaign_id}") as resp:
            page = await resp.text()
        assert resp.status == 200
        windows_card = page[page.index('id="windows"') :]
        assert "Sending windows" in windows_card and "closed" in windows_card and ">NL<" in windows_card
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with session.get(f"{base}/api/campaigns/{campaign_id}", headers=headers) as resp:
            answer = await resp.json()
        [dutch] = [w for w in answer["windows"] if w["country"] == "NL"]
        assert dutch["open_now"] is False and dutch["waiting"] == 3 and dutch["opens_at"]
