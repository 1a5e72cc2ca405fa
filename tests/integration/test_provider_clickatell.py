"""The Clickatell REST v2.0 client against the sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

from campaigner.app.preflight import check_sender
from campaigner.config import ProviderConfig
from campaigner.errors import ProviderError
from campaigner.model.provider import (
    DeliveryStatus,
    OutboundMessage,
    Outcome,
)
from campaigner.providers.clickatell import ClickatellProvider
from campaigner.providers.registry import make_provider
from campaigner.sandbox.app import RunningSandbox, run_sandbox
from campaigner.sandbox.settings import settings_for_tests

BASELINE = {
    "requests_per_minute": 100000,
    "messages_per_second": 100000,
    "balance": 100.0,
    "clickatell_credits": 1000.0,
    "sent_delay": 0.02,
    "fault_500_rate": 0.0,
    "fault_503_rate": 0.0,
    "reset_rate": 0.0,
    "slow_rate": 0.0,
    "reply_lost_rate": 0.0,
    "blocked": [],
    "opted_out": [],
    "delisted": [],
    "dnc": [],
    "allowed_ips": [],
}
A, B, C = "+27831234567", "+16501234567", "+447700900123"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(settings_for_tests(**BASELINE)) as sb:
        yield sb


@pytest.fixture
def sb(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> RunningSandbox:
    sandbox.state.configure(BASELINE)
    sandbox.state.reset()
    monkeypatch.setenv("CLICKATELL_KEY", sandbox.settings.full_key)
    monkeypatch.setenv("CLICKATELL_HOOK_SECRET", "hook-secret")
    return sandbox


@pytest_asyncio.fixture(loop_scope="session")
async def make(sb: RunningSandbox) -> AsyncIterator[Callable[..., ClickatellProvider]]:
    made: list[ClickatellProvider] = []

    def build(**overrides: Any) -> ClickatellProvider:
        fields: dict[str, Any] = {
            "type": "clickatell",
            "base_url": sb.clickatell_url,
            "api_key_env": "CLICKATELL_KEY",
            "webhook_secret_env": "CLICKATELL_HOOK_SECRET",
            "read_timeout": 5.0,
        }
        fields.update(overrides)
        provider = make_provider(ProviderConfig(**fields))
        assert isinstance(provider, ClickatellProvider)
        made.append(provider)
        return provider

    yield build
    for provider in made:
        await provider.close()


Make = Callable[..., ClickatellProvider]


def msgs(*numbers: str, body: str = "Same text for all") -> list[OutboundMessage]:
    return [OutboundMessage(ref=i + 1, to=n, body=body) for i, n in enumerate(numbers)]


async def test_batch_is_one_request_with_per_message_ids(sb: RunningSandbox, make: Make) -> None:
    results = await make().send(msgs(A, B, C))
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3
    assert sb.state.snapshot()["requests"] == 1
    stored = [sb.state.store.by_api_id[r.provider_id or ""] for r in results]
    assert [m.to for m in stored] == [A, B, C]
    assert {m.client_message_id for m in stored} == {"r1"}  # the request's key: its first job
    [single] = await make().send([OutboundMessage(ref=42, to=A, body="only one")])
    assert sb.state.store.by_api_id[single.provider_id or ""].client_message_id == "42"


async def test_batches_split_by_body_and_size_keep_order(sb: RunningSandbox, make: Make) -> None:
    provider = make(recipients_per_request=2)
    assert provider.max_recipients_per_request == 2
    batch = [*msgs(A, B, C, body="one"), OutboundMessage(ref=9, to=A, body="two")]
    results = await provider.send(batch)
    assert [(r.ref, r.outcome) for r in results] == [(m.ref, Outcome.ACCEPTED) for m in batch]
    assert sb.state.snapshot()["requests"] == 3  # [A, B] "one", [C] "one", [A] "two"


def test_unicode_only_for_text_outside_the_gsm_alphabet(make: Make) -> None:
    provider = make()

    def flagged(body: str) -> bool:
        return "unicode" in provider._payload([OutboundMessage(ref=1, to=A, body=body)])

    assert not flagged("Only €5 for Jürgen, café Δ £")  # all GSM-7 (basic or extension table)
    assert flagged("Привет") and flagged("ok 👍") and flagged("Zoë")  # ë is not GSM


def test_factory_batch_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIQTEL_API_KEY", "x")
    monkeypatch.setenv("CLICKATELL_API_KEY", "x")
    assert make_provider(ProviderConfig(type="clickatell")).max_recipients_per_request == 200
    explicit = ProviderConfig(type="clickatell", recipients_per_request=1000)
    assert make_provider(explicit).max_recipients_per_request == 600
    assert (
        make_provider(ProviderConfig(type="cliqtel", recipients_per_request=50)).max_recipients_per_request
        == 1
    )


async def test_per_message_refusals_in_a_207(sb: RunningSandbox, make: Make) -> None:
    sb.state.configure({"blocked": ["+27830000121"], "opted_out": ["+27830000122"]})
    sb.state.configure({"delisted": ["+27830000128"], "dnc": ["+27830000250"]})
    numbers = (A, "+27830000121", "+27830000122", "+27830000128", "+27830000250", "+12")
    results = await make().send(msgs(*numbers))
    assert [(r.outcome, r.code, r.opt_out) for r in results] == [
        (Outcome.ACCEPTED, None, False),
        (Outcome.RECIPIENT, "121", True),
        (Outcome.RECIPIENT, "122", True),
        (Outcome.RECIPIENT, "128", True),
        (Outcome.RECIPIENT, "250", True),
        (Outcome.RECIPIENT, "105", False),
    ]


async def test_whole_request_refusals(
    sb: RunningSandbox, make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb.state.configure({"opted_out": [A, B]})
    gone = await make().send(msgs(A, B))  # 410: every recipient opted out
    assert [(r.outcome, r.code, r.opt_out) for r in gone] == [(Outcome.RECIPIENT, "122", True)] * 2
    sb.state.configure({"opted_out": [], "clickatell_credits": 0.0})  # credits, not the euro wallet
    funds = await make().send(msgs(A, B))
    assert [(r.outcome, r.code) for r in funds] == [(Outcome.FUNDS, "301")] * 2
    sb.state.configure({"clickatell_credits": 1000.0, "allowed_ips": ["10.9.9.9"]})
    [lockdown] = await make().send(msgs(A))
    assert (lockdown.outcome, lockdown.code) == (Outcome.ACCOUNT, "007")
    sb.state.configure({"allowed_ips": []})
    [bad_sender] = await make(sender="+441234").send(msgs(A))
    assert (bad_sender.outcome, bad_sender.code) == (Outcome.ACCOUNT, "106")
    monkeypatch.setenv("CLICKATELL_KEY", sb.settings.read_key)
    [read_only] = await make().send(msgs(A))
    monkeypatch.setenv("CLICKATELL_KEY", "nonsense")
    [wrong] = await make().send(msgs(A))
    assert (read_only.outcome, wrong.outcome, wrong.code) == (Outcome.ACCOUNT, Outcome.ACCOUNT, "001")
    monkeypatch.setenv("CLICKATELL_KEY", sb.settings.full_key)
    for fault in ("fault_500_rate", "fault_503_rate"):
        sb.state.configure({fault: 1.0})
        assert [(r.outcome, r.code) for r in await make().send(msgs(A, B))] == [
            (Outcome.TRANSIENT, "901")
        ] * 2
        sb.state.configure({fault: 0.0})
    assert sb.state.snapshot()["accepted_messages"] == 0


async def test_throttled_batch(sb: RunningSandbox, make: Make) -> None:
    sb.state.configure({"messages_per_second": 3, "message_window": 10.0})
    provider = make()
    first = await provider.send(msgs(A, B))
    second = await provider.send(msgs(A, B, body="2 more than the 3 per window allow"))
    assert [r.outcome for r in first] == [Outcome.ACCEPTED] * 2
    assert all(r.outcome is Outcome.THROTTLED and (r.retry_after or 0) > 0 for r in second), second


async def test_timeout_ambiguous_and_refused_transient(sb: RunningSandbox, make: Make) -> None:
    sb.state.configure({"slow_rate": 1.0, "slow_seconds": 1.0})
    slow = await make(read_timeout=0.2).send(msgs(A, B))
    sb.state.configure({"slow_rate": 0.0})
    assert {r.outcome for r in slow} == {Outcome.AMBIGUOUS}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = make(base_url=f"http://127.0.0.1:{port}")
    assert {r.outcome for r in await closed.send(msgs(A, B))} == {Outcome.TRANSIENT}
    with pytest.raises(ProviderError):  # it cannot look messages up by our id: never asked
        await closed.lookup(msgs(A)[0], datetime.now(UTC))


async def test_balance_coverage_status_and_stop(sb: RunningSandbox, make: Make) -> None:
    provider = make()
    sb.state.configure({"sent_delay": 60.0})  # stays queued, so it can be stopped
    [sent] = await provider.send(msgs(A))
    balance = await provider.balance()
    # One part at the sandbox's default 0.8 credits, from its credits wallet (not the euro one).
    assert balance is not None and (balance.amount, balance.currency) == (Decimal("999.20"), "credits")
    coverage = await provider.coverage(B)
    assert coverage.routable and coverage.destination == B[1:] and coverage.minimum_charge == Decimal("0.8")
    assert await provider.message_status(sent.provider_id or "") is DeliveryStatus.QUEUED
    assert await provider.stop(sent.provider_id or "") is DeliveryStatus.UNDELIVERED
    with pytest.raises(ProviderError, match="HTTP 400"):
        await provider.stop(sent.provider_id or "")
    with pytest.raises(ProviderError, match="HTTP 404"):
        await provider.message_status("0" * 32)
    config = ProviderConfig(type="clickatell", sender="")
    assert (await check_sender(provider, config)).number == ""  # no numbers API: not checked


async def test_key_not_in_repr_or_errors(make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKATELL_KEY", "secret-token-value")
    provider = make()
    [result] = await provider.send(msgs(A))
    with pytest.raises(ProviderError) as caught:
        await provider.balance()
    for text in (repr(provider), repr(result), str(caught.value)):
        assert "secret-token-value" not in text
