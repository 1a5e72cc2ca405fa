"""Short links end to end: `campaigner send` with a per-recipient link through the real sandbox,
then the real `campaigner daemon` answering every short URL over HTTP, and the clicks in
`status --format json`, `report`, `export` and the dashboard."""

from __future__ import annotations

import csv
import io
import json
import re
import signal
from pathlib import Path

import aiohttp

from campaigner.config import config_from_mapping
from campaigner.store.store import Store
from tests.acceptance.test_daemon import free_port
from tests.acceptance.test_send_cli import campaigner, start, write_config
from tests.dispatch_helpers import wait_for
from tests.fixtures.sandbox import MakeSandbox
from tests.web_helpers import TOKEN, serving_web

COUNT = 12


async def test_links_sent_followed_and_counted(
    database_url: str, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = await make_sandbox(requests_per_minute=600, request_window=6.0, messages_per_second=100)
    config = write_config(tmp_path, sandbox, rpm=600, mps=100)
    port, admin = free_port(), free_port()
    base = f"http://127.0.0.1:{port}/l"
    # A long flush interval: the clicks reach the database only through the flush at shutdown.
    config.write_text(
        config.read_text()
        + f"[daemon]\nport = {port}\nadmin_port = {admin}\n"
        + f'[links]\nbase_url = "{base}"\nflush_interval = 300.0\n'
    )
    recipients = tmp_path / "r.csv"
    targets = {f"+3164000{i:04d}": f"https://shop.example.com/o/{i}?c=sms" for i in range(COUNT)}
    recipients.write_text(
        "name,phone,url\n" + "".join(f"P{i},{n},{u}\n" for i, (n, u) in enumerate(targets.items()))
    )
    await campaigner(
        config, database_url, "send", str(recipients), "-m", "Hi {name}, your order: {link:order}",
        "--link", "order={url}", "-y",
    )  # fmt: skip
    bodies = {m.to: m.body for m in sandbox.state.store.messages}
    assert len(bodies) == COUNT
    short = {to: re.fullmatch(r"Hi P\d+, your order: (\S+)", body).group(1) for to, body in bodies.items()}  # type: ignore[union-attr]
    assert len(set(short.values())) == COUNT and all(
        re.fullmatch(re.escape(base) + r"/[0-9A-Za-z]{8}", u) for u in short.values()
    )

    daemon = await start(config, database_url, "daemon", env={"CLIQTEL_WEBHOOK_SECRET": "links-test-secret"})
    try:
        async with aiohttp.ClientSession() as session:

            async def up() -> bool:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as reply:
                        return reply.status == 200
                except aiohttp.ClientError:
                    return False

            await wait_for(up, 20, "the daemon's public listener")
            for to, url in short.items():
                async with session.get(url, allow_redirects=False) as reply:
                    assert reply.status == 302 and reply.headers["Location"] == targets[to]
            async with session.get(base + "/AAAAAAAA", allow_redirects=False) as reply:
                assert reply.status == 404
    finally:
        if daemon.returncode is None:
            daemon.send_signal(signal.SIGTERM)
        _out, err = await daemon.communicate()
    assert daemon.returncode == 0, err.decode()
    assert "shop.example.com" not in err.decode() and "+3164000" not in err.decode()  # nobody's data logged

    status = json.loads(await campaigner(config, database_url, "status", "1", "--format", "json"))
    clicks = status["clicks"]
    assert (clicks["links"], clicks["clicks"], clicks["unique_clickers"], clicks["bot_clicks"]) == (
        COUNT,
        COUNT,
        COUNT,
        0,
    )
    assert (
        clicks["by_country"][0]["country"] == "NL" and sum(m["clicks"] for m in clicks["timeline"]) == COUNT
    )
    plain = await campaigner(config, database_url, "status", "1")
    assert f"short links: {COUNT} clicks by {COUNT} recipients" in plain
    report = json.loads(await campaigner(config, database_url, "report", "1", "--format", "json"))
    assert report["clicks"]["unique_clickers"] == COUNT
    table = await campaigner(config, database_url, "report", "1")
    assert f"clicks {COUNT:,} by {COUNT:,} recipients" in table
    exported = list(csv.DictReader(io.StringIO(await campaigner(config, database_url, "export", "1"))))
    assert {r["link_clicks"] for r in exported} == {"1"} and all(r["link_first_click_at"] for r in exported)

    store = await Store.open_url(database_url)
    try:
        async with (
            serving_web(store, config_from_mapping({}, source="<test>")) as web,
            aiohttp.ClientSession() as session,
        ):
            async with session.get(f"{web}/login?token={TOKEN}", allow_redirects=False) as signed:
                assert signed.status == 303
                cookie = signed.headers["Set-Cookie"].split(";", 1)[0]
            async with session.get(f"{web}/campaigns/1", headers={"Cookie": cookie}) as page:
                html = await page.text()
        assert page.status == 200
        assert "Short links" in html and f"<b>{COUNT}</b> clicks by" in html
    finally:
        await store.close()
