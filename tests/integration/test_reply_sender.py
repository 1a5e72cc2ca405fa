"""The reply sender against the real sandbox and PostgreSQL: an outcome it cannot know is never
resent, a transient error is retried, a refused number fails, and the sends share the account's
rate schedule (issue 16)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from campaigner.app.reply_sender import ReplySender
from campaigner.dispatch.shared_throttle import SharedThrottle
from campaigner.dispatch.throttle import Limits
from campaigner.model.inbound import Reply, ReplyDraft
from campaigner.providers.registry import make_provider
from campaigner.sandbox import RunningSandbox
from campaigner.store.store import Store
from tests.dispatch_helpers import API_KEY_ENV, WEBHOOK_SECRET_ENV, sandbox_config, wait_for
from tests.fixtures.sandbox import MakeSandbox

OUR_NUMBER = "+3197010203040"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "17|sandbox-full-access-key")
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, "sandbox-webhook-secret")


async def owe_help(store: Store, e164: str, pid: str, text: str = "ACME: help at acme.example") -> None:
    """A HELP kept, with the reply it owes (as the webhook does)."""
    reply = Reply(pid, e164, e164, OUR_NUMBER, "help", datetime.now(UTC), language="en")
    draft = ReplyDraft("help", "en", text, 1, "NL", Decimal("0.008"))
    await store.record_replies("default", [reply], drafts={pid: draft})


async def sender_for(store: Store, sandbox: RunningSandbox) -> tuple[ReplySender, object]:
    config = sandbox_config(sandbox, provider={"read_timeout": 0.5, "connect_timeout": 0.5})
    provider = make_provider(config.provider)
    throttle = SharedThrottle(Limits.of(config.provider), store, config.provider.account)
    return ReplySender(store, provider, throttle, config, "reply-worker"), provider


def sent_to(sandbox: RunningSandbox, e164: str) -> int:
    return sum(1 for m in sandbox.state.store.by_to.get(e164, []) if m.direction == "outbound")


async def states(store: Store, e164: str) -> list[tuple[str, int]]:
    return [(r["state"], r["attempts"]) for r in await store.replies_to(e164)]


async def test_a_lost_answer_is_unknown_and_never_resent(store: Store, make_sandbox: MakeSandbox) -> None:
    sandbox = await make_sandbox(reply_lost_rate=1.0, seed=1)
    sender, provider = await sender_for(store, sandbox)
    try:
        await owe_help(store, "+31612345678", "in-1")
        assert await sender.send_due() == 0
        assert await states(store, "+31612345678") == [("unknown", 1)]
        assert await sender.send_due() == 0  # nothing is taken again
    finally:
        await provider.close()  # type: ignore[attr-defined]
    assert sent_to(sandbox, "+31612345678") == 1  # the provider has it once


async def test_a_transient_error_is_retried_and_a_refused_number_fails(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    sandbox = await make_sandbox(fault_503_rate=1.0, seed=1)
    sender, provider = await sender_for(store, sandbox)
    try:
        await owe_help(store, "+31612345678", "in-1")
        await sender.send_due()
        [(state, attempts)] = await states(store, "+31612345678")
        assert (state, attempts) == ("pending", 1)  # due again after a backoff
        sandbox.settings.fault_503_rate = 0.0
        await store.db.pool.execute("UPDATE reply_outbox SET next_attempt_at = now()")  # test: due now
        assert await sender.send_due() == 1
        assert await states(store, "+31612345678") == [("sent", 2)]
        await owe_help(store, "+31612345679", "in-2", "x" * 1700)  # refused: too long a body
        assert await sender.send_due() == 0
        assert [s for s, _ in await states(store, "+31612345679")] == ["failed"]
    finally:
        await provider.close()  # type: ignore[attr-defined]
    assert sent_to(sandbox, "+31612345678") == 1


async def test_replies_waiting_for_the_shared_schedule_go_back_unsent_on_a_stop(
    store: Store, make_sandbox: MakeSandbox
) -> None:
    sandbox = await make_sandbox()
    sender, provider = await sender_for(store, sandbox)
    try:
        await owe_help(store, "+31612345678", "in-1")
        await owe_help(store, "+31612345679", "in-2")
        await store.push_schedule("default:requests", 30)  # the campaigns hold the schedule for 30 s
        task = asyncio.create_task(sender.send_due())

        async def claimed() -> bool:
            return [s for s, _ in await states(store, "+31612345678")] == ["sending"]

        await wait_for(claimed, 5, "the replies to be claimed")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for number in ("+31612345678", "+31612345679"):
            assert await states(store, number) == [("pending", 0)]  # not unknown: never handed over
    finally:
        await provider.close()  # type: ignore[attr-defined]
    assert sent_to(sandbox, "+31612345678") == 0
