"""Receipts over real HTTP into the real PostgreSQL: scoped to the webhook's account, dated within
the window, parked within bounds and in one statement a request (issue 14, items 3, 6, 11).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from campaigner.inbound.receipts import apply_pending_receipts
from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.model.inbound import FinalReceipt
from campaigner.model.jobs import JobResult
from campaigner.model.states import JobState
from campaigner.store.database import Runner
from campaigner.store.store import Store
from tests.builders import PRICE, message
from tests.integration.test_replies import _env, webhook_config
from tests.integration.test_webhooks import STATUS, job_state, post, serving, signed, status_payload

__all__ = ["_env"]  # the environment the webhook config names, for every test here


async def submitted_job(store: Store, account: str, e164: str, provider_id: str) -> int:
    """A running campaign of `account` with one job, submitted with `provider_id`; its job id."""
    spec = NewCampaign(name=account, message="Hi", provider_account=account)
    totals = CampaignTotals(total_jobs=1, estimated_cost=PRICE, preview={})
    campaign_id = await store.create_campaign(spec, [[message(2, e164, "Hi")]], lambda: totals)
    await store.resume_campaign(campaign_id)
    [job] = await store.claim_jobs(campaign_id, "w", 1, 60)
    await store.record_results("w", [JobResult(job.id, JobState.SUBMITTED, provider_id=provider_id)])
    return job.id


def many(ids: list[str], status: str = "delivered") -> bytes:
    """One compact Cliqtel callback carrying an undated receipt for each id."""
    data = [{"id": pid, "status": status} for pid in ids]
    return json.dumps({"event": "sms.status_updated", "data": data}, separators=(",", ":")).encode()


async def send(client: Any, body: bytes) -> dict[str, int]:
    code, answer = await post(client, STATUS, body, signed(body))
    assert code == 200, answer
    verdicts: dict[str, int] = answer["verdicts"]
    return verdicts


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The named statements run on `store`'s database while the block runs, in order (a task an
    earlier test left behind, on a database of its own, is not counted)."""
    seen: list[str] = []
    originals = {name: getattr(Runner, name) for name in ("execute", "one", "all", "value")}

    def counting(original: Any) -> Any:
        async def run(self: Runner, name: str, *args: Any) -> Any:
            if self.url == store.db.url:
                seen.append(name)
            return await original(self, name, *args)

        return run

    mp = pytest.MonkeyPatch()
    for name, original in originals.items():
        mp.setattr(Runner, name, counting(original))
    try:
        yield seen
    finally:
        mp.undo()


# -- scoped to the account --------------------------------------------------------------------------


async def test_a_receipt_moves_only_the_jobs_of_the_webhooks_account(store: Store) -> None:
    # Cliqtel ids are small integers: two accounts in one database both have a message 7.
    ours = await submitted_job(store, "a", "+31612340001", "7")
    theirs = await submitted_job(store, "b", "+31612340002", "7")
    async with serving(store, webhook_config(provider={"account": "a"})) as client:
        assert await send(client, status_payload("7", "undelivered")) == {"accepted": 1}
        assert await send(client, status_payload("7", "delivered")) == {"duplicate": 1}
    assert await job_state(store, ours) == "undelivered"
    assert await job_state(store, theirs) == "submitted"


async def test_several_accounts_receipts_in_one_statement_each_touch_only_their_account(
    store: Store,
) -> None:
    # The daemon's one ReceiptBatcher puts the receipts of every account's concurrent requests in
    # one statement: each row is still scoped to its own account, and parks within its own room.
    ours = await submitted_job(store, "a", "+31612340001", "7")
    theirs = await submitted_job(store, "b", "+31612340002", "7")
    await store.db.pool.execute(  # test-only setup: account c has one receipt parked already
        "INSERT INTO pending_receipts (provider_account, provider_id, status)"
        " VALUES ('c', 'old', 'delivered')"
    )
    groups = [
        ("a", [FinalReceipt("7", "delivered"), FinalReceipt("u1", "delivered")], 1, 100),
        ("b", [FinalReceipt("7", "undelivered", "undelivered"), FinalReceipt("u1", "delivered")], 0, 100),
        ("c", [FinalReceipt("u1", "delivered"), FinalReceipt("u2", "delivered")], 5, 2),
        ("a", [FinalReceipt("u2", "delivered"), FinalReceipt("u3", "delivered")], 1, 100),
    ]
    with statements(store) as run:
        answers = await store.apply_receipts_of_accounts(groups)
    assert run == ["apply-receipts"]
    assert [[v.verdict for v in group] for group in answers] == [
        ["accepted", "parked"],
        ["accepted", "park_refused"],  # b has no room in this statement
        ["parked", "park_refused"],  # c: one of its 2 waiting at most was taken already
        ["parked", "park_refused"],  # a: the room of its two requests (1 + 1) is used up
    ]
    assert answers[0][0].job_id == ours and answers[1][0].job_id == theirs
    assert await job_state(store, ours) == "delivered"
    assert await job_state(store, theirs) == "undelivered"
    assert await store.count_pending_receipts("a") == 2
    assert await store.count_pending_receipts("b") == 0
    assert await store.count_pending_receipts("c") == 2
    # Again: every id is now known to its own account.
    again = await store.apply_receipts_of_accounts(groups[:2])
    assert [[v.verdict for v in group] for group in again] == [
        ["duplicate", "duplicate"],
        ["duplicate", "park_refused"],
    ]


async def test_a_parked_receipt_waits_for_its_own_accounts_job(store: Store) -> None:
    async with serving(store, webhook_config(provider={"account": "a"})) as client:
        assert await send(client, status_payload("8", "delivered")) == {"parked": 1}
        # Account b has a final job 8: for account a that is no duplicate.
        await submitted_job(store, "b", "+31612340003", "9")
        assert await send(client, status_payload("9", "delivered")) == {"parked": 1}
    theirs = await submitted_job(store, "b", "+31612340002", "8")
    assert await apply_pending_receipts(store, "b") == 0
    assert await apply_pending_receipts(store, "a") == 0
    assert await job_state(store, theirs) == "submitted"
    ours = await submitted_job(store, "a", "+31612340001", "8")
    assert await apply_pending_receipts(store, "a") == 1
    assert await job_state(store, ours) == "delivered"
    assert await job_state(store, theirs) == "submitted"
    assert await store.count_pending_receipts("a") == 1  # 9 still waits for a's job 9
    assert await store.count_pending_receipts("b") == 0


# -- dated within the window ------------------------------------------------------------------------


async def test_receipts_dated_2001_or_2099_are_answered_200_and_not_applied(store: Store) -> None:
    job_id = await submitted_job(store, "default", "+31612340001", "w-1")
    async with serving(store, webhook_config()) as client:
        assert await send(client, status_payload("w-1", "undelivered", "2001-01-01T00:00:00Z")) == {
            "stale": 1
        }
        assert await send(client, status_payload("w-1", "undelivered", "2099-01-01T00:00:00Z")) == {
            "future_dated": 1
        }
        assert await send(client, status_payload("nobody", "delivered", "2099-01-01T00:00:00Z")) == {
            "future_dated": 1
        }
        assert await job_state(store, job_id) == "submitted"
        assert await store.count_pending_receipts() == 0
        assert await send(client, status_payload("w-1", "delivered")) == {"accepted": 1}
    assert await job_state(store, job_id) == "delivered"


# -- parking is bounded and batched -----------------------------------------------------------------


async def test_one_request_parks_at_most_its_share_in_one_statement(store: Store) -> None:
    config = webhook_config(daemon={"parked_receipts_per_request": 100, "parked_receipts_max": 150})
    job_id = await submitted_job(store, "default", "+31612340001", "known")
    unknown = [f"u{i}" for i in range(1400)]  # what fits in one signed request of 64 KB
    async with serving(store, config) as client:
        with statements(store) as run:
            assert await send(client, many(["known", *unknown, "known"])) == {
                "accepted": 1,
                "parked": 100,
                "park_refused": 1300,
                "duplicate": 1,
            }
        assert run == ["apply-receipts"]
        assert await store.count_pending_receipts() == 100
        # In request order: the first hundred unknown ids are the ones kept.
        parked = await store.db.pool.fetch("SELECT provider_id FROM pending_receipts")  # test-only look
        assert {r["provider_id"] for r in parked} == set(unknown[:100])

        # The account's total: 150 waiting at most, whatever the requests.
        assert await send(client, many([f"v{i}" for i in range(100)])) == {"parked": 50, "park_refused": 50}
        assert await send(client, many(["u0", "w0"])) == {"duplicate": 1, "park_refused": 1}
    assert await store.count_pending_receipts() == 150
    assert await job_state(store, job_id) == "delivered"


async def test_a_request_of_non_final_statuses_asks_the_database_nothing(store: Store) -> None:
    async with serving(store, webhook_config()) as client:
        with statements(store) as run:
            assert await send(client, many(["a", "b"], status="sent")) == {"ignored": 2}
        assert run == []


async def test_the_segments_and_cost_a_receipt_reports_are_kept(store: Store) -> None:
    # The reference's sms.status_updated carries "segments" and "cost", as the 201 reply does.
    job_id = await submitted_job(store, "a", "+31612340003", "9")
    data = {"id": 9, "status": "delivered", "segments": 2, "cost": 0.016}
    body = json.dumps({"event": "sms.status_updated", "data": data}, separators=(",", ":")).encode()
    async with serving(store, webhook_config(provider={"account": "a"})) as client:
        assert await send(client, body) == {"accepted": 1}
    job = await store.get_job(job_id)
    assert job is not None and job.state == "delivered"
    [reported] = [r async for r in store.export_jobs(job.campaign_id)]
    assert (reported["reported_segments"], reported["reported_cost"]) == (2, Decimal("0.016"))
