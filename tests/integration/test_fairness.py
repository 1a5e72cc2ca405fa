"""Two campaigns of one account in one process, through the sandbox: each gets its share of the rate.

A big campaign starts first; a small one starts once the big one sends at full rate. Under
round_robin the small one gets half the account's rate, under priority (30 against 10) three
quarters; it must finish within a bound derived from that share, the big one must send no more
than its own share meanwhile, and the limits must hold in every window.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from campaigner.app.wiring import RunWiring
from campaigner.model.campaigns import CampaignTotals, NewCampaign
from campaigner.model.states import CampaignState
from campaigner.store.store import Store
from tests.builders import PRICE, message, numbers
from tests.dispatch_helpers import API_KEY_ENV, sandbox_config, wait_for
from tests.fixtures.sandbox import MakeSandbox

RATE = 20  # messages a second for the account, one a request
BIG, SMALL = 2000, 40
SENT = ("submitted", "delivered", "undelivered")


@pytest.fixture(autouse=True)
def _sandbox_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "17|sandbox-full-access-key")


async def running(store: Store, recipients: list[str], priority: int) -> int:
    rows = [message(i + 2, e164, f"Hello {i}") for i, e164 in enumerate(recipients)]
    spec = NewCampaign(name="fair", message="Hello {n}", priority=priority)
    totals = CampaignTotals(total_jobs=len(rows), estimated_cost=PRICE * len(rows), preview={})
    campaign_id = await store.create_campaign(spec, [rows], lambda: totals)
    await store.resume_campaign(campaign_id)
    return campaign_id


async def sent(store: Store, campaign_id: int) -> int:
    counts = await store.job_counts(campaign_id)
    return sum(counts.get(state, 0) for state in SENT)


@pytest.mark.parametrize(
    ("fairness", "priority", "share"), [("round_robin", 10, 0.5), ("priority", 30, 0.75)]
)
async def test_a_small_campaign_started_after_a_big_one_finishes_within_its_share(
    store: Store, make_sandbox: MakeSandbox, fairness: str, priority: int, share: float
) -> None:
    sandbox = await make_sandbox(requests_per_minute=RATE * 60, request_window=60.0, messages_per_second=RATE)
    config = sandbox_config(sandbox, dispatcher={"fairness": fairness})
    big = await running(store, numbers(BIG), 10)
    small = await running(store, numbers(SMALL, start=BIG), priority)
    wiring = RunWiring.build(store, config)
    await wiring.worker.start()
    try:
        big_runner = wiring.runner(big)
        big_task = asyncio.create_task(big_runner.run())
        await wait_for(lambda: _at_least(store, big, RATE), 20, "the big campaign to send at full rate")
        before = await sent(store, big)
        began = time.monotonic()
        report = await asyncio.wait_for(wiring.runner(small).run(), 60)
        took = time.monotonic() - began
        during = await sent(store, big) - before
        big_runner.stop()
        await asyncio.wait_for(big_task, 30)
    finally:
        await wiring.close()

    assert report.state == CampaignState.COMPLETED
    # Its share of RATE: SMALL / (share * RATE) seconds of sending (2 s, or 1.3 s), with room for
    # the start (a quarter second of slots booked before its first turn), the completion poll and a
    # loaded machine. Without a share of its own it would wait behind the big one: 100 s.
    bound = SMALL / (share * RATE) * 1.5 + 2.0
    assert took <= bound, f"the small campaign took {took:.1f} s; its share allows {bound:.1f} s"
    # The big one took no more than its own share meanwhile (plus the slots booked before the turn).
    most = SMALL * (1 - share) / share * 1.25 + RATE * 0.25 + 4
    assert during <= most, f"the big campaign sent {during} while the small one sent {SMALL}"
    figures = sandbox.state.snapshot(per_recipient=True)
    assert figures["duplicates"] == {}
    assert figures["rate_limits"]["requests"]["violations"] == 0
    assert figures["rate_limits"]["messages"]["violations"] == 0


async def _at_least(store: Store, campaign_id: int, count: int) -> bool:
    return await sent(store, campaign_id) >= count
