"""Inbound replies over real HTTP into the real PostgreSQL: the STOP lands on the loader's number,
is kept once, and STOPs and STARTs count in the order the person sent them (issue 14, items 2, 3).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaigner.config import Config, config_from_mapping
from campaigner.model.inbound import Reply, ReplyOutcome
from campaigner.providers.registry import make_provider
from campaigner.store.store import Store
from tests.builders import create_running_campaign
from tests.dispatch_helpers import API_KEY_ENV, WEBHOOK_SECRET_ENV, sandbox_config, wait_for
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.test_webhooks import INBOUND, SECRET, post, run_campaign, serving, signed

PERSON = "+31612345678"
OUR_NUMBER = "+3197010203040"
NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "17|not-used")
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, SECRET)
    monkeypatch.setenv("CLICKATELL_CALLBACK_TOKEN", SECRET)  # Clickatell's callbacks: ?token=


def webhook_config(provider_type: str = "cliqtel", **sections: Any) -> Config:
    """A daemon config whose provider is never called: only its webhooks are used."""
    provider = {
        "type": provider_type,
        "base_url": "http://127.0.0.1:9",
        "api_key_env": API_KEY_ENV,
        "webhook_secret_env": WEBHOOK_SECRET_ENV,
        **sections.pop("provider", {}),
    }
    return config_from_mapping({"provider": provider, **sections}, source="<test>")


def reply(pid: str, sender: str, body: str, sent: datetime | None = NOW, to: str = OUR_NUMBER) -> bytes:
    """A signed-to-be Cliqtel `sms.received` callback."""
    data: dict[str, Any] = {"id": pid, "from": sender, "to": to, "body": body}
    if sent is not None:
        data["received_at"] = sent.isoformat()
    return json.dumps({"event": "sms.received", "data": data}).encode()


async def send(client: Any, body: bytes, path: str = INBOUND) -> dict[str, int]:
    code, answer = await post(client, path, body, signed(body))
    assert code == 200, answer
    verdicts: dict[str, int] = answer["verdicts"]
    return verdicts


@pytest.mark.parametrize(
    "written",
    [
        "+31 (0)6 1234 5678",  # used to suppress +310612345678, another number
        "06 1234 5678",
        "tel:+31612345678",
        "＋３１６１２３４５６７８",
        "+٣١٦١٢٣٤٥٦٧٨",
        "+31\u200b612345678",
        "'+31612345678",
    ],
)
async def test_a_stop_however_written_suppresses_the_number_its_jobs_were_loaded_with(
    store: Store, written: str
) -> None:
    campaign_id = await create_running_campaign(store, [PERSON, "+31612345679"])
    async with serving(store, webhook_config()) as client:
        assert await send(client, reply("in-1", written, "STOP")) == {"opt_out": 1}
    assert await store.suppressed_numbers() == {PERSON}
    # The claim that reaches the job skips it: nothing is sent to the person after the STOP.
    claimed = await store.claim_jobs(campaign_id, "w", 10, 30)
    assert [job.e164 for job in claimed] == ["+31612345679"]
    assert (await store.job_counts(campaign_id))["skipped"] == 1


async def test_after_a_stop_written_with_0_in_brackets_the_sandbox_never_gets_a_message_for_the_number(
    store: Store, make_sandbox: MakeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Observed on main: the STOP suppressed +310612345678, and the real number was sent to and
    # delivered afterwards.
    monkeypatch.setenv(API_KEY_ENV, "17|sandbox-full-access-key")
    sandbox = await make_sandbox(webhook_secret=SECRET)
    others = ["+31612340001", "+31612340002"]
    config = sandbox_config(sandbox)
    campaign_id = await create_running_campaign(store, [others[0], PERSON, others[1]])
    async with serving(store, config) as client:
        assert await send(client, reply("in-1", "+31 (0)6 1234 5678", "STOP")) == {"opt_out": 1}
    provider = make_provider(config.provider)
    try:
        report = await run_campaign(store, config, campaign_id, provider)
    finally:
        await provider.close()
    assert report.state == "completed"
    assert await store.job_counts(campaign_id) == {"submitted": 2, "skipped": 1}
    sent_to = sandbox.state.snapshot(per_recipient=True)["per_recipient"]
    assert PERSON not in sent_to and set(others) <= set(sent_to)


async def test_a_national_number_is_read_with_the_default_region_when_the_receiving_one_has_none(
    store: Store,
) -> None:
    config = webhook_config(recipients={"default_region": "NL"})
    async with serving(store, config) as client:
        assert await send(client, reply("in-1", "06 1234 5678", "stop", to="")) == {"opt_out": 1}
    assert await store.suppressed_numbers() == {PERSON}


async def test_clickatells_0031_form_is_a_stop_too(store: Store) -> None:
    # Clickatell writes numbers without '+'; its client puts one before 0031..., which used to be
    # dropped with a 200 (and the provider does not retry a 200).
    body = json.dumps(
        {"data": {"moMessageId": "mo-1", "from": "0031612345678", "to": "3197010203040", "text": "Stop"}}
    ).encode()
    async with serving(store, webhook_config("clickatell")) as client:
        assert await send(client, body, f"/webhooks/clickatell/inbound?token={SECRET}") == {"opt_out": 1}
    assert await store.suppressed_numbers() == {PERSON}


async def test_a_reply_whose_number_does_not_parse_is_kept_and_reported_not_dropped(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="campaigner.inbound"):
        async with serving(store, webhook_config()) as client:
            assert await send(client, reply("in-9", "06 1234 5678", "STOP", to="")) == {"bad_number": 1}
            assert await send(client, reply("in-9", "06 1234 5678", "STOP", to="")) == {"duplicate": 1}
    assert await store.suppressed_numbers() == set()
    [kept] = await store.inbound_problems()
    assert (kept["provider_id"], kept["from_number"], kept["body"]) == ("in-9", "06 1234 5678", "STOP")
    assert kept["reply"] == "opt_out" and kept["problem"].startswith("bad_number")
    [warning] = [r for r in caplog.records if "not applied" in r.getMessage()]
    assert "STOP" in warning.getMessage() and "06 1234 5678" not in warning.getMessage()


async def test_a_replayed_stop_is_a_duplicate_and_does_not_undo_a_later_start(store: Store) -> None:
    stop = reply("in-1", PERSON, "STOP", NOW - timedelta(minutes=10))
    async with serving(store, webhook_config()) as client:
        assert await send(client, stop) == {"opt_out": 1}
        assert await send(client, stop) == {"duplicate": 1}  # the provider retries
        assert await send(client, reply("in-2", PERSON, "START", NOW - timedelta(minutes=5))) == {"opt_in": 1}
        assert await store.suppressed_numbers() == set()
        assert await send(client, stop) == {"duplicate": 1}  # replayed later: still nothing
    assert await store.suppressed_numbers() == set()


async def test_a_late_start_older_than_the_latest_stop_does_nothing(store: Store) -> None:
    async with serving(store, webhook_config()) as client:
        assert await send(client, reply("in-2", PERSON, "STOP", NOW - timedelta(minutes=1))) == {"opt_out": 1}
        # Sent before the STOP, delivered after it (or replayed under a new id): superseded.
        late = reply("in-1", PERSON, "START", NOW - timedelta(minutes=2))
        assert await send(client, late) == {"superseded": 1}
    assert await store.suppressed_numbers() == {PERSON}


async def test_a_late_stop_older_than_the_latest_start_does_nothing_either(store: Store) -> None:
    async with serving(store, webhook_config()) as client:
        assert await send(client, reply("in-1", PERSON, "STOP", NOW - timedelta(minutes=3))) == {"opt_out": 1}
        assert await send(client, reply("in-3", PERSON, "START", NOW - timedelta(minutes=1))) == {"opt_in": 1}
        # The person's last word was START: a STOP sent before it and arriving now changes nothing.
        assert await send(client, reply("in-2", PERSON, "STOP", NOW - timedelta(minutes=2))) == {
            "superseded": 1
        }
    assert await store.suppressed_numbers() == set()


async def test_stops_and_starts_of_one_request_count_in_the_order_they_were_sent(store: Store) -> None:
    events = [
        {"id": "in-3", "from": PERSON, "to": OUR_NUMBER, "body": "STOP", "received_at": NOW.isoformat()},
        {
            "id": "in-1",
            "from": PERSON,
            "to": OUR_NUMBER,
            "body": "START",
            "received_at": (NOW - timedelta(minutes=1)).isoformat(),
        },
        {"id": "in-3", "from": PERSON, "to": OUR_NUMBER, "body": "STOP", "received_at": NOW.isoformat()},
    ]
    body = json.dumps({"event": "sms.received", "data": events}).encode()
    async with serving(store, webhook_config()) as client:
        assert await send(client, body) == {"opt_out": 1, "superseded": 1, "duplicate": 1}
    assert await store.suppressed_numbers() == {PERSON}


async def test_replies_arriving_at_once_in_any_order_leave_the_newest_ones_word(store: Store) -> None:
    # 24 STOPs and STARTs of one number, one a second, all posted at once: whatever order the
    # server takes them in, the newest (a STOP) decides.
    start = NOW - timedelta(minutes=5)
    bodies = [
        reply(f"in-{i}", PERSON, "STOP" if i % 2 else "START", start + timedelta(seconds=i))
        for i in reversed(range(24))
    ]
    async with serving(store, webhook_config()) as client:
        answers = await asyncio.gather(*(send(client, body) for body in bodies))
    assert sum(sum(a.values()) for a in answers) == 24
    assert await store.suppressed_numbers() == {PERSON}


async def test_a_start_decided_while_an_older_stop_is_being_decided_waits_for_it(
    store: Store, database_url: str
) -> None:
    # Another daemon's request (a STOP sent two minutes ago) is half way: kept, decided, not yet
    # committed. A START sent a minute ago must not decide before it commits: it would not see the
    # STOP, lift nothing, and the STOP would then win although the person's last word was START.
    other = await Store.open_url(database_url, migrate=False)
    start_reply = Reply("in-2", PERSON, PERSON, OUR_NUMBER, "opt_in", NOW - timedelta(minutes=1))
    try:
        async with other.db.transaction() as tx:
            sent = [NOW - timedelta(minutes=2)]
            [kept] = await tx.all(
                "record-inbound", "default", ["in-1"], [PERSON], [PERSON], [OUR_NUMBER], ["opt_out"], sent,
                [None], [None], [False], ["en"],
            )  # fmt: skip
            await tx.value("lock-reply-numbers", [PERSON])
            [stop] = await tx.all("apply-opt-replies", [kept["id"]], "account")
            assert stop["applied"] and stop["changed"]
            start = asyncio.create_task(store.record_replies("default", [start_reply]))

            async def waiting() -> bool:
                return start.done() or bool(
                    await store.db.pool.fetchval(  # test-only look at the lock table
                        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)"
                    )
                )

            await wait_for(waiting, 10, "the START to wait for the number")
            assert not start.done(), "the START was decided while the STOP was not committed"
        assert await start == [ReplyOutcome(applied=True, changed=True)]  # it lifted the STOP's entry
    finally:
        await other.close()
    assert await store.suppressed_numbers() == set()


async def test_a_manual_suppression_is_never_lifted_by_a_start(store: Store) -> None:
    await store.add_suppressions([PERSON], "complaint", "manual")
    async with serving(store, webhook_config()) as client:
        assert await send(client, reply("in-1", PERSON, "START")) == {"opt_in": 1}
    assert await store.suppressed_numbers() == {PERSON}


async def test_replies_dated_far_from_now_are_kept_not_applied(store: Store) -> None:
    config = webhook_config(daemon={"event_max_age": 3600, "event_max_skew": 60})
    async with serving(store, config) as client:
        assert await send(client, reply("in-1", PERSON, "STOP", datetime(2001, 1, 1, tzinfo=UTC))) == {
            "stale": 1
        }
        # A START dated 2099 would otherwise outrank every STOP the person ever sends.
        assert await send(client, reply("in-2", PERSON, "START", datetime(2099, 1, 1, tzinfo=UTC))) == {
            "future_dated": 1
        }
        assert await store.suppressed_numbers() == set()
        assert await send(client, reply("in-3", PERSON, "STOP")) == {"opt_out": 1}
    assert await store.suppressed_numbers() == {PERSON}
    problems = {r["provider_id"]: r["problem"].split(":")[0] for r in await store.inbound_problems()}
    assert problems == {"in-1": "stale", "in-2": "future_dated"}


async def test_the_same_provider_id_of_another_account_is_another_message(store: Store) -> None:
    async with serving(store, webhook_config(provider={"account": "a"})) as a:
        assert await send(a, reply("in-1", PERSON, "other text")) == {"other": 1}
    async with serving(store, webhook_config(provider={"account": "b"})) as b:
        assert await send(b, reply("in-1", PERSON, "STOP")) == {"opt_out": 1}
    assert await store.suppressed_numbers() == {PERSON}
