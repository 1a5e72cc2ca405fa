"""The consent ledger, opt-out scope, require_opt_in and the reply outbox, in the real PostgreSQL and
through the real webhook listener (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.store.store import Store
from tests.builders import PRICE, message, numbers
from tests.dispatch_helpers import API_KEY_ENV, WEBHOOK_SECRET_ENV, wait_for
from tests.integration.test_replies import OUR_NUMBER, PERSON, reply, send, webhook_config
from tests.integration.test_webhooks import SECRET, serving

OTHER_NUMBER = "+3197010203041"
WORKER = "test-worker"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "17|not-used")
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, SECRET)


async def running_campaign(
    store: Store, recipients: list[str], sender: str = OUR_NUMBER, *, require_opt_in: bool = False
) -> int:
    rows = [message(i + 2, e164, f"Hello {i}") for i, e164 in enumerate(recipients)]
    spec = NewCampaign(name="consent", message="Hello", sender=sender)
    totals = CampaignTotals(total_jobs=len(rows), estimated_cost=PRICE * len(rows), preview={})
    campaign_id = await store.create_campaign(spec, [rows], lambda: totals, require_opt_in=require_opt_in)
    await store.resume_campaign(campaign_id)
    return campaign_id


async def claim_all(store: Store, campaign_id: int) -> tuple[set[str], dict[str, str]]:
    """The numbers a claim hands out, and the skipped jobs' numbers with their error codes."""
    claimed = {job.e164 for job in await store.claim_jobs(campaign_id, WORKER, 1000, 60)}
    rows = await store.db.pool.fetch(  # test-only look at the skipped jobs
        "SELECT e164, error_code FROM jobs WHERE campaign_id = $1 AND state = 'skipped'", campaign_id
    )
    return claimed, {r["e164"]: r["error_code"] for r in rows}


async def test_the_ledger_refuses_update_delete_and_truncate(store: Store) -> None:
    await store.add_suppressions([PERSON], "complaint", "manual", origins=["cli:ops@host"])
    for statement in (
        "UPDATE consent_ledger SET action = 'opt_in'",
        "DELETE FROM consent_ledger",
        "TRUNCATE consent_ledger",
    ):
        with pytest.raises(asyncpg.PostgresError, match="append-only") as raised:
            await store.db.pool.execute(statement)
        assert raised.value.sqlstate == "CG003"
    assert [r["action"] for r in await store.consent_history(PERSON)] == ["manual_add"]


async def test_every_change_to_the_list_is_a_ledger_row_with_its_source_and_campaign(store: Store) -> None:
    campaign_id = await running_campaign(store, [PERSON])
    assert (
        await store.add_suppressions([PERSON, PERSON], "complaint", "manual", origins=["cli:a@h", "x"]) == 1
    )
    assert await store.add_suppressions([PERSON], "opt_out", "provider:122", action="provider_block",
                                        campaign_id=campaign_id, account="acme") == 0  # fmt: skip
    assert await store.remove_suppressions([PERSON], "cli:b@h") == 1
    history = [
        (r["action"], r["source"], r["campaign_id"], r["detail"]) for r in await store.consent_history(PERSON)
    ]
    assert history == [
        ("manual_add", "cli:a@h", None, "complaint"),
        ("provider_block", "provider:122", campaign_id, "opt_out (already listed)"),
        ("manual_remove", "cli:b@h", None, "was: complaint"),
    ]
    assert await store.suppressed_numbers() == set()
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert [r["action"] for r in await store.consent_export(since)] == [h[0] for h in history]
    assert await store.consent_export(datetime.now(UTC) + timedelta(minutes=1)) == []


async def test_a_stop_to_one_sender_does_not_silence_another_when_the_scope_is_sender(store: Store) -> None:
    config = webhook_config(compliance={"opt_out_scope": "sender"})
    ours = await running_campaign(store, [PERSON, "+31612345679"], sender=OUR_NUMBER)
    theirs = await running_campaign(store, [PERSON], sender=OTHER_NUMBER)
    since = datetime.now(UTC) - timedelta(minutes=1)
    async with serving(store, config) as client:
        assert await send(client, reply("in-1", PERSON, "STOP", to=OUR_NUMBER)) == {"opt_out": 1}
    [entry] = await store.list_suppressions()
    assert (entry.e164, entry.sender) == (PERSON, "3197010203040")
    # The runner's hold-back sees only the entries of its campaign's sender (and account-wide ones).
    found = await store.suppressed_since_any(since, [OUR_NUMBER])
    assert found == [(PERSON, "3197010203040", entry.created_at)]
    assert await store.suppressed_since_any(since, [OTHER_NUMBER]) == []
    assert await claim_all(store, ours) == ({"+31612345679"}, {PERSON: "suppressed"})
    assert await claim_all(store, theirs) == ({PERSON}, {})
    [row] = await store.consent_history(PERSON)
    assert (row["action"], row["source"], row["sender"]) == ("opt_out", "inbound:in-1", "3197010203040")


async def test_an_account_wide_stop_silences_every_sender(store: Store) -> None:
    ours = await running_campaign(store, [PERSON], sender=OUR_NUMBER)
    theirs = await running_campaign(store, [PERSON], sender=OTHER_NUMBER)
    async with serving(store, webhook_config()) as client:
        assert await send(client, reply("in-1", PERSON, "arrêt", to=OTHER_NUMBER)) == {"opt_out": 1}
    assert await claim_all(store, ours) == (set(), {PERSON: "suppressed"})
    assert await claim_all(store, theirs) == (set(), {PERSON: "suppressed"})


async def test_require_opt_in_sends_only_to_numbers_with_a_recorded_opt_in(store: Store) -> None:
    consenting, silent, replier, opted_out = numbers(4)
    await store.import_consents(
        [(consenting, datetime(2026, 1, 5, tzinfo=UTC), "import:list.csv:2: web form"),
         (opted_out, datetime(2026, 1, 5, tzinfo=UTC), "import:list.csv:3: web form")]
    )  # fmt: skip
    await store.add_suppressions([opted_out], "complaint", "manual")
    campaign_id = await running_campaign(store, [consenting, silent, replier, opted_out], require_opt_in=True)
    async with serving(store, webhook_config()) as client:  # a START records an opt-in too
        assert await send(client, reply("in-1", replier, "START")) == {"opt_in": 1}
    claimed, skipped = await claim_all(store, campaign_id)
    assert claimed == {consenting, replier}
    assert skipped == {silent: "no_consent", opted_out: "suppressed"}  # an opt-out wins over an opt-in
    assert await store.consented_numbers() == {consenting, replier, opted_out}
    plain = await running_campaign(store, [silent])  # a campaign that requires none sends
    assert await claim_all(store, plain) == ({silent}, {})


async def test_a_confirmation_is_owed_once_per_inbound_and_never_to_a_listed_number(store: Store) -> None:
    config = webhook_config(
        compliance={
            "opt_out_reply": "Bye",
            "help_reply": {"default": "Help", "fr": "Aide"},
            "fuzzy_keywords": True,
        }
    )
    async with serving(store, config) as client:
        assert await send(client, reply("in-1", PERSON, "STOP")) == {"opt_out": 1}
        assert await send(client, reply("in-1", PERSON, "STOP")) == {"duplicate": 1}
        # A second STOP of a listed number: applied (a ledger row), but no second confirmation.
        assert await send(client, reply("in-2", PERSON, "please stop it")) == {"opt_out_fuzzy": 1}
        assert await send(client, reply("in-3", PERSON, "AIDE")) == {"help": 1}
    owed = [
        (r["inbound_provider_id"], r["kind"], r["body"], r["state"]) for r in await store.replies_to(PERSON)
    ]
    assert owed == [("in-1", "opt_out", "Bye", "pending"), ("in-3", "help", "Aide", "pending")]
    claimed, skipped = await store.claim_replies("default", WORKER, 10, 60)
    assert [r.kind for r in claimed] == ["opt_out"] and skipped == ["help"]  # HELP to a listed number
    ledger = [(r["action"], r["source"], r["detail"]) for r in await store.consent_history(PERSON)]
    assert ledger == [
        ("opt_out", "inbound:in-1", ""),
        ("opt_out", "inbound:in-2", "fuzzy: an opt-out word inside a sentence"),
    ]


async def test_a_reply_left_mid_send_becomes_unknown_and_is_never_sent_again(store: Store) -> None:
    config = webhook_config(compliance={"opt_out_reply": "Bye"})
    async with serving(store, config) as client:
        assert await send(client, reply("in-1", PERSON, "STOP")) == {"opt_out": 1}
    [held], _ = await store.claim_replies("default", "crashed-worker", 10, 0.05)  # then killed
    assert await store.claim_replies("default", WORKER, 10, 60) == ([], [])  # held: nobody else takes it

    async def lease_ran_out() -> bool:
        return bool(await store.db.pool.fetchval("SELECT lease_expires_at < now() FROM reply_outbox"))

    await wait_for(lease_ran_out, 5, "the lease to run out")
    assert await store.abandon_reply_leases("default") == ["opt_out"]
    assert [r["state"] for r in await store.replies_to(PERSON)] == ["unknown"]
    assert await store.claim_replies("default", WORKER, 10, 60) == ([], [])
    # The crashed worker's late write changes nothing.
    assert not await store.record_reply_result(held.id, "crashed-worker", "sent", provider_id="x")
    assert [r["state"] for r in await store.replies_to(PERSON)] == ["unknown"]
