"""The HTTP API over real HTTP and a real database: every documented route, its answers validated
against /api/openapi.json, idempotency keys, auth, and bad input named as the CLI names it."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import jsonschema
import pytest

from campaigner.config import Config, config_from_mapping
from campaigner.store.store import Store
from tests.web_helpers import TOKEN, serving_web

CSV = "phone,name\n+31612345671,Ann\n+31612345672,Bob\n+31612345673,Cy\n"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _config() -> Config:
    return config_from_mapping({}, source="<test>")


def _form(csv: str = CSV, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("recipients", csv.encode(), filename="people.csv", content_type="text/csv")
    for name, value in {"message": "Hello {name}", **fields}.items():
        form.add_field(name, value)
    return form


class Checked:
    """A client that validates every answer against the OpenAPI document and notes what it called."""

    def __init__(self, session: aiohttp.ClientSession, base: str, document: dict[str, Any]) -> None:
        self.session = session
        self.base = base
        self.document = document
        self.called: set[tuple[str, str]] = set()

    async def call(self, method: str, route: str, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
        headers = {**AUTH, **kwargs.pop("headers", {})}
        async with self.session.request(method, self.base + path, headers=headers, **kwargs) as resp:
            body = await resp.json()
            status, resp_headers = resp.status, resp.headers
        operation = self.document["paths"][route][method.lower()]
        assert str(status) in operation["responses"], f"{method} {path}: {status} is not documented: {body}"
        schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
        jsonschema.Draft202012Validator({**schema, "components": self.document["components"]}).validate(body)
        self.called.add((route, method.lower()))
        return status, body, resp_headers


@pytest.fixture
async def api(store: Store) -> Any:
    async with serving_web(store, _config()) as base, aiohttp.ClientSession() as session:
        async with session.get(base + "/api/openapi.json", headers=AUTH) as resp:
            assert resp.status == 200
            document = await resp.json()
        yield Checked(session, base, document)


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def test_every_documented_route_answers_as_documented(api: Checked, store: Store) -> None:
    status, created, _ = await api.call(
        "POST", "/api/campaigns", "/api/campaigns", data=_form(), headers=_key()
    )
    assert status == 201 and created["state"] == "draft" and created["preview"]["sendable"] == 3
    campaign_id = created["id"]

    status, listed, _ = await api.call("GET", "/api/campaigns", "/api/campaigns")
    assert [c["id"] for c in listed["campaigns"]] == [campaign_id]
    status, one, _ = await api.call("GET", "/api/campaigns/{id}", f"/api/campaigns/{campaign_id}")
    assert one["message"] == "Hello {name}" and one["sample"]["body"].startswith("Hello ")
    assert one["counts"]["pending"] == 3 and one["wait"]["code"] == "draft"
    await api.call("GET", "/api/campaigns/{id}/timeline", f"/api/campaigns/{campaign_id}/timeline")
    status, page, _ = await api.call(
        "GET", "/api/campaigns/{id}/jobs", f"/api/campaigns/{campaign_id}/jobs?state=pending&limit=2"
    )
    assert [j["line"] for j in page["jobs"]] == [2, 3] and page["next_after"] is not None
    status, rest, _ = await api.call(
        "GET", "/api/campaigns/{id}/jobs", f"/api/campaigns/{campaign_id}/jobs?after={page['next_after']}"
    )
    assert [j["line"] for j in rest["jobs"]] == [4] and rest["next_after"] is None

    route = "/api/campaigns/{id}/"
    status, resumed, _ = await api.call(
        "POST", route + "resume", f"/api/campaigns/{campaign_id}/resume", headers=_key()
    )
    assert resumed["state"] == "running"
    status, paused, _ = await api.call(
        "POST",
        route + "pause",
        f"/api/campaigns/{campaign_id}/pause",
        json={"reason": "lunch"},
        headers=_key(),
    )
    assert (paused["state"], paused["reason"]) == ("paused", "lunch")
    status, retried, _ = await api.call(
        "POST", route + "retry", f"/api/campaigns/{campaign_id}/retry", headers=_key()
    )
    assert retried["put_back"] == 0
    status, cancelled, _ = await api.call(
        "POST", route + "cancel", f"/api/campaigns/{campaign_id}/cancel", headers=_key()
    )
    assert cancelled["state"] == "cancelled" and cancelled["cancelled"] == 3
    # The state machine's refusal is a 409 in the CLI's words.
    status, refused, _ = await api.call(
        "POST", route + "resume", f"/api/campaigns/{campaign_id}/resume", headers=_key()
    )
    assert status == 409 and "only a paused or draft campaign can be resumed" in refused["error"]

    status, preview, _ = await api.call("POST", "/api/preview", "/api/preview", data=_form())
    assert status == 200 and preview["sendable"] == 3 and preview["file"] == "people.csv"

    # Errors are documented too: unknown id, a bad parameter, no token.
    status, missing, _ = await api.call("GET", "/api/campaigns/{id}", "/api/campaigns/999999")
    assert status == 404 and missing["error"] == "campaign 999999 does not exist"
    status, bad, _ = await api.call(
        "GET", "/api/campaigns/{id}/jobs", f"/api/campaigns/{campaign_id}/jobs?state=sent"
    )
    assert status == 400 and bad["field"] == "state"

    # A number's consent: its ledger rows and whether it is listed; a bad number is a 400.
    await store.add_suppressions(["+31612345678"], "complaint", "manual", origins=["cli:ops@host"])
    route = "/api/suppressions/{number}"
    status, consent, _ = await api.call("GET", route, "/api/suppressions/+31612345678")
    assert status == 200 and consent["suppressed"] == ["account"]
    assert [(h["action"], h["source"]) for h in consent["history"]] == [("manual_add", "cli:ops@host")]
    status, bad, _ = await api.call("GET", route, "/api/suppressions/not-a-number")
    assert status == 400 and bad["field"] == "number"

    documented = {(path, method) for path, item in api.document["paths"].items() for method in item}
    assert api.called == documented
    assert len(await store.list_campaigns()) == 1  # the preview stored nothing


async def test_the_same_idempotency_key_makes_one_campaign(api: Checked, store: Store) -> None:
    key = _key()
    first = await api.call("POST", "/api/campaigns", "/api/campaigns", data=_form(), headers=key)
    again = await api.call("POST", "/api/campaigns", "/api/campaigns", data=_form(), headers=key)

    assert first[0] == again[0] == 201
    assert again[1]["id"] == first[1]["id"]
    assert again[2].get("Idempotent-Replayed") == "true"
    assert len(await store.list_campaigns()) == 1
    # The same key with other content is refused, and creates nothing either.
    status, body, _ = await api.call(
        "POST", "/api/campaigns", "/api/campaigns", data=_form(name="other"), headers=key
    )
    assert status == 422 and "different request" in body["error"]
    status, body, _ = await api.call("POST", "/api/campaigns", "/api/campaigns", data=_form())
    assert status == 400 and "Idempotency-Key" in body["error"]
    assert len(await store.list_campaigns()) == 1


async def test_start_true_starts_it_and_warns_when_no_worker_is_alive(api: Checked) -> None:
    status, body, _ = await api.call(
        "POST", "/api/campaigns", "/api/campaigns?start=true", data=_form(), headers=_key()
    )
    assert status == 201 and body["state"] == "running"
    assert body["warnings"] == [f"no live worker: start `campaigner daemon` or `campaigner run {body['id']}`"]


@pytest.mark.parametrize(
    ("fields", "csv", "field", "message"),
    [
        ({"quiet_hours": "25:00-x"}, CSV, "quiet_hours", "quiet_hours: '25:00-x' is not HH:MM-HH:MM"),
        ({"send_at": "tomorrow"}, CSV, "send_at", "send_at: 'tomorrow' is not an ISO 8601 time"),
        ({"footer": "x", "no_footer": "true"}, CSV, "footer", "footer: give either footer or no_footer"),
        ({"footer": "Stop\x07"}, CSV, "footer", "footer: must not contain control characters"),
        ({"message": "  "}, CSV, "message", "message: the message is empty"),
        ({"region": "XX"}, CSV, "region", "region: 'XX' is not a region code"),
        ({"colour": "red"}, CSV, "colour", "'colour' is not a field of this request"),
        ({"message": "Hi {nmae}"}, CSV, "message", "placeholder {nmae} has no column in people.csv"),
        ({}, "email,name\na@example.com,Ann\n", "recipients", "people.csv"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(
    api: Checked, store: Store, fields: dict[str, str], csv: str, field: str, message: str
) -> None:
    status, body, _ = await api.call(
        "POST", "/api/campaigns", "/api/campaigns", data=_form(csv, **fields), headers=_key()
    )
    assert status == 400, body
    assert body["field"] == field, body
    assert message in body["error"]
    assert await store.list_campaigns() == []


async def test_a_campaign_made_through_the_api_carries_its_footer(api: Checked, store: Store) -> None:
    status, body, _ = await api.call(
        "POST", "/api/campaigns", "/api/campaigns", data=_form(footer="Reply STOP to opt out"), headers=_key()
    )
    assert status == 201, body
    assert body["preview"]["footer"] == "Reply STOP to opt out"
    sample = await store.campaign_sample(body["id"])
    assert sample is not None and sample.body.endswith("\nReply STOP to opt out")


async def test_a_file_with_nothing_to_send_is_a_422_with_its_preview(api: Checked, store: Store) -> None:
    status, body, _ = await api.call(
        "POST",
        "/api/campaigns",
        "/api/campaigns",
        data=_form("phone\nnot-a-number\n", message="Hello"),
        headers=_key(),
    )
    assert status == 422
    assert "nothing to send" in body["error"] and body["preview"]["invalid"] == 1
    assert await store.list_campaigns() == []


async def test_without_the_token_nothing_is_revealed(store: Store) -> None:
    from tests.builders import make_campaign

    await make_campaign(store, 2)
    await store.db.pool.execute("UPDATE campaigns SET name = 'secret-name'")
    async with serving_web(store, _config()) as base, aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN}):
            for path in ("/api/campaigns", "/api/campaigns/1", "/api/openapi.json", "/", "/campaigns/1"):
                async with session.get(base + path, headers=headers) as resp:
                    text = await resp.text()
                    assert resp.status == 401, (path, headers)
                    assert "secret-name" not in text and "Hello" not in text
            async with session.post(base + "/api/campaigns/1/pause", headers=headers) as resp:
                assert resp.status == 401
        assert (await store.get_campaign(1)).state == "running"


async def test_idempotency_keys_are_forgotten_after_a_day(store: Store) -> None:
    assert await store.claim_idempotency_key("old", "h1")
    assert await store.claim_idempotency_key("new", "h2")
    await store.db.pool.execute(
        "UPDATE idempotency_keys SET created_at = now() - interval '2 days' WHERE key = 'old'"
    )
    await store.forget_idempotency_keys(86_400)
    assert await store.idempotent_answer("old") is None
    assert await store.idempotent_answer("new") == ("h2", None, None)


async def test_link_account_and_priority_fields_as_the_cli_options(store: Store) -> None:
    config = config_from_mapping(
        {
            "links": {"base_url": "https://go.example.com"},
            "accounts": {"acme": {"sender": "+3197010203041"}},
        },
        source="<test>",
    )
    async with serving_web(store, config) as base, aiohttp.ClientSession() as session:

        async def post(*links: str, account: str = "acme", priority: str = "30") -> tuple[int, Any]:
            form = _form(message="Hi {name} {link:shop}", account=account, priority=priority)
            for link in links:
                form.add_field("link", link)
            async with session.post(base + "/api/campaigns", data=form, headers={**AUTH, **_key()}) as r:
                return r.status, await r.json()

        status, body = await post("shop=https://shop.example.com/?who={name}")
        assert status == 201, body
        campaign = await store.get_campaign(body["id"])
        assert (campaign.provider_account, campaign.sender) == ("acme", "+3197010203041")
        assert campaign.priority == 30
        sample = await store.campaign_sample(body["id"])
        assert sample is not None and "https://go.example.com/" in sample.body
        assert "shop.example" not in sample.body

        for links, account, field, says in [
            (("shop",), "acme", "link", "link 'shop': write NAME=URL"),
            (("shop=https://a.example/", "shop=https://b.example/"), "acme", "link", "given twice"),
            (("shop=https://shop.example.com/",), "nope", "account", "'nope' is not a provider account"),
        ]:
            status, body = await post(*links, account=account)
            assert (status, body["field"]) == (400, field), body
            assert says in body["error"], body
        for priority in ("0", "101", "high", "1.5"):
            status, body = await post("shop=https://shop.example.com/", priority=priority)
            assert (status, body["field"]) == (400, "priority"), body
            assert "is not a whole number from 1 to 100" in body["error"], body
    assert len(await store.list_campaigns()) == 1
