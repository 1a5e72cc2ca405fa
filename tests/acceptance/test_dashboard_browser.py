"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright, against a daemon
(in this process) carrying a campaign through the sandbox.

Sign in, open the running campaign, watch its counters move, pause it from the page, see the state
change. A screenshot is saved in the test's tmp dir (and to $CAMPAIGNER_SCREENSHOT when set, which
is how docs/dashboard-campaign.png is made). `.ci/run` installs Chromium when it is missing;
Playwright never downloads a browser here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from campaigner.app.daemon import Daemon
from campaigner.config import Config, config_from_mapping
from campaigner.model.states import CampaignState
from campaigner.store.store import Store
from tests.acceptance.test_daemon import KEY, SECRET, daemon_settings, free_port
from tests.builders import create_running_campaign, numbers
from tests.dispatch_helpers import API_KEY_ENV, WEBHOOK_SECRET_ENV, wait_for
from tests.fixtures.sandbox import MakeSandbox
from tests.web_helpers import TOKEN, TOKEN_ENV

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).is_file()


def _config(settings: dict[str, object], **api: object) -> Config:
    return config_from_mapping(
        {**settings, "api": {"token_env": TOKEN_ENV, "port": 0, **api}}, source="<test>"
    )


@asynccontextmanager
async def _running_daemon(config: Config) -> AsyncIterator[Daemon]:
    daemon = Daemon(config)
    task = asyncio.create_task(daemon.run())
    started = asyncio.create_task(daemon.started.wait())
    await asyncio.wait({task, started}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # its start-up error
    assert daemon.started.is_set(), "the daemon did not start within 20 s"
    try:
        yield daemon
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 20)


async def test_without_a_token_the_daemon_serves_no_dashboard(
    store: Store,
    database_url: str,
    make_sandbox: MakeSandbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(API_KEY_ENV, KEY)
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, SECRET)
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    sandbox = await make_sandbox()
    caplog.set_level(logging.INFO, logger="campaigner.app.daemon")
    async with _running_daemon(_config(daemon_settings(sandbox, database_url, free_port()))) as daemon:
        assert daemon.api_port is None
    assert f"dashboard and HTTP API off: no token in ${TOKEN_ENV}" in caplog.text


@pytest.mark.slow
async def test_watch_a_campaign_move_and_pause_it_in_chromium(
    store: Store,
    database_url: str,
    make_sandbox: MakeSandbox,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    assert HAVE_CHROMIUM, "Chromium is missing: .ci/run installs it (apt-get install chromium)"
    monkeypatch.setenv(API_KEY_ENV, KEY)
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, SECRET)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    # Slow enough to watch: 5 messages a second, 300 of them (a minute), paused after a few.
    sandbox = await make_sandbox(requests_per_minute=300, request_window=60.0, messages_per_second=5)
    config = _config(daemon_settings(sandbox, database_url, free_port()))
    campaign_id = await create_running_campaign(store, numbers(300), body="Hello {n}, your table is ready")

    async with _running_daemon(config) as daemon:
        base = f"http://127.0.0.1:{daemon.api_port}"
        async with aiohttp.ClientSession() as session:  # the API on the same listener, same token
            async with session.get(
                base + "/api/campaigns", headers={"Authorization": f"Bearer {TOKEN}"}
            ) as r:
                assert r.status == 200
        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = await browser.new_page(viewport={"width": 1100, "height": 1500})
                await page.goto(base + "/")
                assert await page.title() == "Sign in · campaigner"
                await page.fill("#token", TOKEN)
                await page.click("button[type=submit]")
                await page.wait_for_url(base + "/")
                await page.click(f"a[href='/campaigns/{campaign_id}']")
                await page.wait_for_selector("#state")
                assert (await page.text_content("#state")) == "running"

                # Counters move without a reload: the pending count falls as the daemon sends.
                first = int((await page.text_content("#count-pending") or "0").replace(",", ""))
                await page.wait_for_function(
                    "first => parseInt(document.getElementById('count-pending')"
                    ".textContent.replace(/,/g, '')) < first - 5",
                    arg=first,
                    timeout=20_000,
                )
                assert (await page.text_content("#rate") or "").endswith("/s")
                await page.screenshot(path=str(tmp_path / "campaign-running.png"), full_page=True)
                if target := os.environ.get("CAMPAIGNER_SCREENSHOT"):
                    await page.screenshot(path=target, full_page=True)

                await page.click("a.button.pause")
                await page.wait_for_selector("#confirm")
                await page.click("#confirm")
                await page.wait_for_function(
                    "document.getElementById('state').textContent === 'paused'", timeout=10_000
                )
                assert "paused from the dashboard" in (await page.text_content("#wait") or "")
                await page.screenshot(path=str(tmp_path / "campaign-paused.png"), full_page=True)

                # On a phone's screen: nothing wider than the screen (tables stack as cards).
                await page.set_viewport_size({"width": 390, "height": 844})
                await page.reload()
                await page.wait_for_selector("#state")
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, f"the page is {width} px wide on a 390 px screen"
                await page.screenshot(path=str(tmp_path / "campaign-phone.png"), full_page=True)
            finally:
                await browser.close()

        campaign = await store.get_campaign(campaign_id)
        assert campaign.state == CampaignState.PAUSED

        async def settled() -> bool:
            return (await store.job_counts(campaign_id)).get("sending", 0) == 0

        await wait_for(settled, 10, "the paused campaign's in-flight jobs to settle")
        counts = await store.job_counts(campaign_id)
        assert 0 < counts.get("pending", 0) < 300  # part sent, the rest waits for a resume
    assert (tmp_path / "campaign-paused.png").stat().st_size > 10_000
