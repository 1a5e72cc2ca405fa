"""The ClickSend numbers client against the sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from campaigner.app.preflight import check_sender
from campaigner.config import ProviderConfig
from campaigner.errors import ConfigError, ProviderError
from campaigner.model.provider import OutboundMessage, Outcome
from campaigner.providers.base import Provider
from campaigner.providers.errors import ProviderUnavailable
from campaigner.providers.registry import make_provider
from campaigner.sandbox import RunningSandbox
from tests.fixtures.sandbox import MakeSandbox


def many_numbers(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": i + 1,
            "number": f"+6141{i:07d}",
            "country_code": "AU",
            "number_type": "mobile",
            "sms_enabled": i % 3 != 0,
        }
        for i in range(count)
    ]


@pytest.fixture
async def sb(make_sandbox: MakeSandbox, monkeypatch: pytest.MonkeyPatch) -> RunningSandbox:
    sandbox = await make_sandbox(numbers=many_numbers(230), requests_per_minute=100000)
    monkeypatch.setenv("CLICKSEND_USERNAME", sandbox.settings.clicksend_username)
    monkeypatch.setenv("CLICKSEND_KEY", sandbox.settings.clicksend_key)
    return sandbox


@pytest_asyncio.fixture(loop_scope="session")
async def provider(sb: RunningSandbox) -> AsyncIterator[Provider]:
    config = ProviderConfig(type="clicksend", base_url=sb.clicksend_url, api_key_env="CLICKSEND_KEY")
    client = make_provider(config)
    yield client
    await client.close()


async def test_numbers_follow_every_page_with_sms_capability(sb: RunningSandbox, provider: Provider) -> None:
    numbers = await provider.numbers()
    assert len(numbers) == 230  # three pages of at most 100
    assert sb.state.snapshot()["requests"] == 3
    assert [n.number for n in numbers[:2]] == ["+61410000000", "+61410000001"]
    assert [n.sms_enabled for n in numbers[:3]] == [False, True, True]
    assert {n.country for n in numbers} == {"AU"}
    assert (await check_sender(provider, ProviderConfig(sender="+61410000001"))).sms_enabled
    with pytest.raises(ProviderError, match=r"sender \+61410000000 is not an SMS-enabled number"):
        await check_sender(provider, ProviderConfig(sender="+61410000000"))


async def test_send_is_not_supported(provider: Provider) -> None:
    [result] = await provider.send([OutboundMessage(1, "+61410000001", "hi")])
    assert result.outcome is Outcome.ACCOUNT and "not supported" in (result.message or "")
    assert not (await provider.lookup(OutboundMessage(1, "+61410000001", "hi"), datetime.now(UTC))).found
    assert await provider.balance() is None


async def test_wrong_credentials_and_faults(
    sb: RunningSandbox, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb.state.configure({"fault_routes": ["clicksend.numbers"], "fault_503_rate": 1.0})
    with pytest.raises(ProviderUnavailable, match="HTTP 503"):
        await provider.numbers()
    sb.state.configure({"fault_503_rate": 0.0})
    monkeypatch.setenv("CLICKSEND_KEY", "wrong-clicksend-key")
    config = ProviderConfig(type="clicksend", base_url=sb.clicksend_url, api_key_env="CLICKSEND_KEY")
    wrong = make_provider(config)
    try:
        with pytest.raises(ProviderError, match="HTTP 401 UNAUTHORIZED") as caught:
            await wrong.numbers()
    finally:
        await wrong.close()
    assert "wrong-clicksend-key" not in str(caught.value) + repr(wrong)
    monkeypatch.delenv("CLICKSEND_USERNAME")
    with pytest.raises(ConfigError, match="CLICKSEND_USERNAME"):
        make_provider(config)
