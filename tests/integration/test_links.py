"""Short links against a real PostgreSQL and the daemon's real public listener over HTTP: codes
loaded with their jobs (and drawn again on a clash), the redirect (302/301, 404, 410), clicks
buffered and flushed (first clicks, repeats, bots), the figures the views read, and guessing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from campaigner.app.loading import CampaignSource, load_campaign
from campaigner.config import Config, config_from_mapping
from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.model.jobs import PlannedMessage
from campaigner.observe.facts import campaign_facts
from campaigner.store.store import Store
from campaigner.text.links import CodeSource, short_url
from tests.builders import PRICE, message, numbers
from tests.dispatch_helpers import API_KEY_ENV, wait_for
from tests.http_helpers import serving

BASE = "http://127.0.0.1:9/l"  # the redirect is tested on the listener's own port (below)
URL_RE = re.compile(r"http://127\.0\.0\.1:9/l/([0-9A-Za-z]{8})")


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "17|sandbox-full-access-key")


def links_config(**links: Any) -> Config:
    return config_from_mapping(
        {
            "links": {"base_url": BASE, "flush_interval": 0.05, **links},
            "provider": {"sender": "Shop", "api_key_env": API_KEY_ENV},
        },
        source="<test>",
    )


def write_csv(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "recipients.csv"
    rows = ["phone,name,sku"] + [f"{n},P{i},sku {i}/x" for i, n in enumerate(numbers(count))]
    path.write_text("\n".join(rows) + "\n")
    return path


async def load(store: Store, config: Config, csv: Path) -> int:
    source = CampaignSource(
        recipients=csv,
        message="Hi {name}: {link:p} and {link:https://shop.example.com/sale?utm_source=sms}",
        message_source="message",
        links=(("p", "https://shop.example.com/p/{sku}?who={name}"),),
    )
    campaign_id, _preview = await load_campaign(store, config, source)
    return campaign_id


async def test_each_recipient_gets_own_codes_loaded_with_the_jobs(store: Store, tmp_path: Path) -> None:
    config = links_config()
    campaign_id = await load(store, config, write_csv(tmp_path, 50))
    jobs = await store.db.pool.fetch("SELECT line, body FROM jobs WHERE campaign_id = $1", campaign_id)
    links = await store.db.pool.fetch(
        "SELECT code, line, name, target FROM links WHERE campaign_id = $1", campaign_id
    )
    assert len(jobs) == 50 and len(links) == 100
    by_code = {r["code"]: r for r in links}
    for job in jobs:
        codes = URL_RE.findall(job["body"])
        assert len(codes) == 2 and all(by_code[c]["line"] == job["line"] for c in codes)
        i = job["line"] - 2
        assert by_code[codes[0]]["target"] == f"https://shop.example.com/p/sku%20{i}%2Fx?who=P{i}"
        assert by_code[codes[1]]["target"] == "https://shop.example.com/sale?utm_source=sms"


async def test_a_code_that_clashes_with_a_stored_one_is_drawn_again(store: Store) -> None:
    taken = CodeSource(8).next()
    await store.db.pool.execute(
        "INSERT INTO links (code, campaign_id, line, name, target) VALUES ($1, 0, 2, 'x', 'https://a.example/')",
        taken,
    )
    url = short_url(BASE, taken)
    clashing = PlannedMessage(
        2, numbers(1)[0], "NL", f"Go {url}", "GSM-7", 1, PRICE, {}, ((taken, "x", "https://b.example/", url),)
    )
    other = message(3, numbers(2)[1])
    campaign_id = await store.create_campaign(
        NewCampaign(name="clash", message="Go {link:x}"),
        [[clashing, other]],
        lambda: CampaignTotals(2, PRICE * 2, {}),
        new_code=CodeSource(8).next,
    )
    row = await store.db.pool.fetchrow("SELECT code, target FROM links WHERE campaign_id = $1", campaign_id)
    body = await store.db.pool.fetchval(
        "SELECT body FROM jobs WHERE campaign_id = $1 AND line = 2", campaign_id
    )
    assert row["code"] != taken and row["target"] == "https://b.example/"
    assert body == f"Go {short_url(BASE, row['code'])}"


def linked_batches(count: int, failing: int | None, closed: list[bool]) -> Iterator[list[PlannedMessage]]:
    """`count` batches of two linked messages; batch `failing` raises while it is planned."""
    source = CodeSource(8)
    try:
        for b in range(count):
            if b == failing:
                raise ValueError("row 7: planning failed")
            batch = []
            for i in (2 * b, 2 * b + 1):
                code = source.next()
                url = short_url(BASE, code)
                batch.append(
                    PlannedMessage(
                        i + 2, numbers(2 * count)[i], "NL", f"Go {url}", "GSM-7", 1, PRICE, {},
                        ((code, "x", "https://b.example/", url),),
                    )
                )  # fmt: skip
            yield batch
    finally:
        closed.append(True)


async def count_rows(store: Store) -> tuple[int, int, int]:
    pool = store.db.pool
    return (
        await pool.fetchval("SELECT count(*) FROM campaigns"),
        await pool.fetchval("SELECT count(*) FROM jobs"),
        await pool.fetchval("SELECT count(*) FROM links"),
    )


async def test_a_linked_load_that_fails_half_way_leaves_nothing(store: Store) -> None:
    # Batches are planned while the one before is copied: an error planning one (here the third,
    # after two were loaded) or copying one still rolls the whole load back, and the planner
    # (its worker pool) is closed.
    before = await count_rows(store)
    closed: list[bool] = []
    with pytest.raises(ValueError, match="row 7"):
        await store.create_campaign(
            NewCampaign(name="half", message="Go {link:x}"),
            linked_batches(5, 2, closed),
            lambda: CampaignTotals(10, PRICE * 10, {}),
            new_code=CodeSource(8).next,
        )
    assert closed == [True] and await count_rows(store) == before

    def bad_totals() -> CampaignTotals:
        raise ValueError("totals failed")

    closed.clear()
    with pytest.raises(ValueError, match="totals failed"):
        await store.create_campaign(
            NewCampaign(name="late", message="Go {link:x}"),
            linked_batches(3, None, closed),
            bad_totals,
            new_code=CodeSource(8).next,
        )
    assert closed == [True] and await count_rows(store) == before


async def test_a_linked_load_in_batches_stores_every_link_with_its_job(store: Store) -> None:
    closed: list[bool] = []
    campaign_id = await store.create_campaign(
        NewCampaign(name="batches", message="Go {link:x}"),
        linked_batches(4, None, closed),
        lambda: CampaignTotals(8, PRICE * 8, {}),
        new_code=CodeSource(8).next,
    )
    rows = await store.db.pool.fetch(
        "SELECT j.line, j.body, l.code FROM jobs j JOIN links l USING (campaign_id, line) "
        "WHERE campaign_id = $1 ORDER BY j.line",
        campaign_id,
    )
    assert [r["line"] for r in rows] == list(range(2, 10))
    assert all(r["body"] == f"Go {short_url(BASE, r['code'])}" for r in rows)


async def test_redirects_count_people_and_bots_apart_and_flush_on_close(store: Store, tmp_path: Path) -> None:
    config = links_config(redirect_status=302, hash_user_agents=True)
    campaign_id = await load(store, config, write_csv(tmp_path, 3))
    rows = await store.db.pool.fetch(
        "SELECT code, target FROM links WHERE campaign_id = $1 ORDER BY line, name", campaign_id
    )
    first, second = rows[0], rows[2]
    async with serving(store, config) as client:
        for _ in range(3):  # one person clicks three times
            reply = await client.get(
                f"/l/{first['code']}", allow_redirects=False, headers={"User-Agent": "Phone"}
            )
            assert reply.status == 302 and reply.headers["Location"] == first["target"]
        bot = await client.get(
            f"/l/{second['code']}", allow_redirects=False, headers={"User-Agent": "WhatsApp/2.23.20.0 A"}
        )
        assert bot.status == 302
        unknown = await client.get("/l/" + "Z" * 8, allow_redirects=False)
        malformed = await client.get("/l/short", allow_redirects=False)
        assert unknown.status == malformed.status == 404
        assert "does not exist" in await unknown.text()

        # Clicks are written by the flusher, not the request: they arrive soon after.
        async def written() -> bool:
            return await store.db.pool.fetchval("SELECT count(*) FROM link_clicks") == 4

        await wait_for(written, 5, "four clicks flushed")
        await client.get(f"/l/{first['code']}", allow_redirects=False)  # buffered, flushed on close
    clicks = await store.db.pool.fetch("SELECT code, first, bot, ua_hash FROM link_clicks ORDER BY id")
    assert len(clicks) == 5
    assert [c["first"] for c in clicks if c["code"] == first["code"]] == [True, False, False, False]
    assert [c["bot"] for c in clicks if c["code"] == second["code"]] == [True]
    assert clicks[0]["ua_hash"] and "Phone" not in clicks[0]["ua_hash"]
    stats = await store.link_stats(campaign_id, 60)
    assert (stats.clicks, stats.bot_clicks, stats.clickers, stats.clicked_links) == (4, 1, 1, 1)
    assert stats.countries[0].country == "NL" and stats.countries[0].clickers == 1
    assert sum(m.clicks for m in stats.timeline) == 4 and sum(m.firsts for m in stats.timeline) == 1
    facts = await campaign_facts(store, config, campaign_id)
    assert facts.clicks is not None and facts.clicks.unique_clickers == 1 and facts.clicks.repeat_clicks == 3
    assert facts.to_json()["clicks"]["bot_clicks"] == 1


async def test_301_when_configured_and_410_after_the_retention(store: Store, tmp_path: Path) -> None:
    config = links_config(redirect_status=301, retention_days=90)
    campaign_id = await load(store, config, write_csv(tmp_path, 2))
    codes = [r["code"] for r in await store.db.pool.fetch("SELECT code FROM links ORDER BY line, name")]
    await store.db.pool.execute(
        "UPDATE links SET created_at = now() - $2::interval WHERE code = $1", codes[0], timedelta(days=91)
    )
    async with serving(store, config) as client:
        assert (await client.get(f"/l/{codes[1]}", allow_redirects=False)).status == 301
        gone = await client.get(f"/l/{codes[0]}", allow_redirects=False)
        assert gone.status == 410 and "expired" in await gone.text()
        assert (await client.get("/healthz")).status == 200  # a fixed route still wins
    assert campaign_id


async def test_a_million_guesses_resolve_none_of_100k_codes(store: Store) -> None:
    """1,000,000 random codes against a campaign of 100,000 links: none resolves. The guesses are
    checked in bulk against the stored codes (one query); the route itself answers an unknown
    code by the same lookup as a hit (benchmarks/links.py measures both)."""
    source = CodeSource(8)
    batch = [
        PlannedMessage(
            i + 2, f"+316{30_000_000 + i:08d}", "NL", "x", "GSM-7", 1, PRICE, {},
            ((code, "x", "https://a.example/", code),),
        )
        for i, code in enumerate(source.next() for _ in range(100_000))
    ]  # fmt: skip
    await store.create_campaign(
        NewCampaign(name="guess", message="{link:x}"),
        [batch],
        lambda: CampaignTotals(len(batch), PRICE, {}),
        new_code=source.next,
    )
    guesser = CodeSource(8)  # an attacker's guesses are as random as the codes
    guesses = [guesser.next() for _ in range(1_000_000)]
    assert len(guesses) == 1_000_000
    assert await store.codes_taken(guesses) == 0
    assert await store.codes_taken([batch[0].links[0][0]]) == 1  # the check can find one
