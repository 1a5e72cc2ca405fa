"""The sandbox's Clickatell side over real HTTP on 127.0.0.1, held to Clickatell's "SMS REST API V2.0".

Each test names what the document shows (or, where it is silent, the behaviour the sandbox chose and
says so in `campaigner/sandbox/clickatell_routes.py`); extensions are switched on explicitly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from campaigner.sandbox import RunningSandbox
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.test_sandbox import http, poll

__all__ = ["http", "poll"]  # the `http` fixture is used by name


def headers(sb: RunningSandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sb.settings.full_key}", "X-Version": "1", "Accept": "application/json"}


async def post(
    http: aiohttp.ClientSession, sb: RunningSandbox, payload: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{sb.clickatell_url}/rest/message", json=payload, headers=headers(sb)) as resp:
        return resp.status, await resp.json()


async def get(http: aiohttp.ClientSession, sb: RunningSandbox, path: str) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{sb.clickatell_url}{path}", headers=headers(sb)) as resp:
        return resp.status, await resp.json()


@pytest.fixture
async def sb(make_sandbox: MakeSandbox) -> AsyncIterator[RunningSandbox]:
    yield await make_sandbox()


# ---- send ------------------------------------------------------------------------------------------


async def test_a_batch_is_202_with_an_api_message_id_per_number(sb: RunningSandbox, http: Any) -> None:
    status, body = await post(http, sb, {"text": "Test Message", "to": ["2799900001", "2799900002"]})
    assert status == 202 and set(body) == {"data"}
    messages = body["data"]["message"]
    assert [(m["accepted"], m["to"]) for m in messages] == [(True, "2799900001"), (True, "2799900002")]
    assert all(len(m["apiMessageId"]) == 32 for m in messages)


async def test_there_is_no_lookup_by_client_message_id(sb: RunningSandbox, http: Any) -> None:
    # The document has "Query Message" by apiMessageId only: a GET on /rest/message is 405 / 160.
    status, body = await post(http, sb, {"text": "Hi", "to": ["2799900001"], "clientMessageId": "job-7"})
    assert status == 202
    async with http.get(
        f"{sb.clickatell_url}/rest/message", params={"clientMessageId": "job-7"}, headers=headers(sb)
    ) as resp:
        assert resp.status == 405 and (await resp.json())["error"]["code"] == "160"
    api_id = body["data"]["message"][0]["apiMessageId"]
    status, found = await get(http, sb, f"/rest/message/{api_id}")
    assert status == 200 and found["data"]["apiMessageId"] == api_id
    assert found["data"]["clientMessageId"] == "job-7"
    assert (await get(http, sb, f"/rest/message/{'0' * 32}"))[0] == 404


async def test_header_and_auth_errors(sb: RunningSandbox, http: Any) -> None:
    url = f"{sb.clickatell_url}/rest/account/balance"
    async with http.get(url, headers={"X-Version": "1"}) as resp:
        assert resp.status == 401 and (await resp.json())["error"]["code"] == "001"
    async with http.get(url, headers={"Authorization": f"Bearer {sb.settings.full_key}"}) as resp:
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "165"
