"""The edge of the webhooks, without a socket: authentication before parsing (and cheap for a
forgery), fields into typed values, and log lines that a flood cannot multiply."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from campaigner.app.floods import FloodLog
from campaigner.config import Secret
from campaigner.model.provider import WebhookRejected
from campaigner.providers import webhooks
from campaigner.providers.webhooks import (
    Unusable,
    basic_auth_valid,
    event_time,
    ident,
    job_ref,
    sign,
    verify_signed,
)

SECRET = Secret("unit-secret")


def test_a_forged_large_json_body_is_refused_without_being_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[Any] = []
    real = json.loads
    monkeypatch.setattr(webhooks.json, "loads", lambda *a, **k: parsed.append(1) or real(*a, **k))
    forged = json.dumps({"event": "sms.status_updated", "data": [{"id": str(i)} for i in range(3000)]})
    assert len(forged) > 32_000
    for body in (forged.encode(), b"[" * 1000 + b"]" * 1000):
        with pytest.raises(WebhookRejected) as caught:
            verify_signed(body, {"X-Cliqtel-Signature": "0" * 64}, SECRET)
        assert caught.value.status == 401
    assert parsed == []


def test_the_compact_form_is_still_accepted_and_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = {"event": "sms.status_updated", "data": {"id": "m-1", "status": "delivered"}}
    compact = json.dumps(payload, separators=(",", ":")).encode()
    pretty = json.dumps(payload, indent=2).encode()
    parsed: list[Any] = []
    real = json.loads
    monkeypatch.setattr(webhooks.json, "loads", lambda *a, **k: parsed.append(1) or real(*a, **k))
    assert verify_signed(pretty, {"X-Cliqtel-Signature": sign(compact, SECRET)}, SECRET) == payload
    assert len(parsed) == 1


def test_an_authenticated_deep_body_is_a_400_not_a_recursion_error() -> None:
    for body in (b"[" * 1000 + b"]" * 1000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000):
        with pytest.raises(WebhookRejected) as caught:
            verify_signed(body, {"X-Cliqtel-Signature": sign(body, SECRET)}, SECRET)
        assert caught.value.status == 400
    batch = json.dumps({"data": [{"apiMessageId": str(i)} for i in range(600)]}).encode()  # wide, not deep
    assert len(verify_signed(batch, {"X-Cliqtel-Signature": sign(batch, SECRET)}, SECRET)["data"]) == 600


@pytest.mark.parametrize(
    "value", [1e20, float("nan"), float("inf"), "12345678901234567890", "yesterday", 0, "1899-01-01", [1]]
)
def test_times_we_cannot_use_are_unusable(value: Any) -> None:
    with pytest.raises(Unusable) as caught:
        event_time(value, "updated_at")
    assert caught.value.reason == "bad_time"


def test_times_we_can_use() -> None:
    assert event_time(None, "t") is None and event_time("", "t") is None
    assert event_time(1760000000, "t").year == 2025  # type: ignore[union-attr]
    assert event_time(1760000000000, "t").year == 2025  # type: ignore[union-attr]
    assert event_time("2025-01-01T10:00:00Z", "t").hour == 10  # type: ignore[union-attr]


def test_ids_and_refs() -> None:
    assert ident(42, "id") == "42" and ident(" a-1 ", "id") == "a-1"
    for bad in ("a\x00b", "\ud800", "", "x" * 129, True, None, {"a": 1}, 1.5, "tab\there"):
        with pytest.raises(Unusable):
            ident(bad, "id")
    assert job_ref("42") == 42 and job_ref(42) == 42
    assert job_ref(None) is None and job_ref("b0123abc") is None  # a body key, not a job id
    for bad in ("²", "4" * 4300, str(2**63)):
        with pytest.raises(Unusable) as caught:
            job_ref(bad)
        assert caught.value.reason == "bad_ref"


def test_basic_auth_needs_its_own_user_and_password() -> None:
    import base64

    def headers(credentials: bytes) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(credentials).decode()}

    password = Secret("cb-pass")
    assert basic_auth_valid(headers(b"hooks:cb-pass"), "hooks", password)
    assert not basic_auth_valid(headers(b"other:cb-pass"), "hooks", password)
    assert not basic_auth_valid(headers(b"hooks:nope"), "hooks", password)
    assert not basic_auth_valid(headers(b"hooks:cb-pass"), "hooks", None)  # none configured
    assert not basic_auth_valid(headers(b":"), "", Secret("x"))


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_is_one_line_per_interval_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    logger = logging.getLogger("campaigner.test.floods")
    floods = FloodLog(logger, interval=10.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="campaigner.test.floods"):
        for i in range(1000):
            clock.now = i / 200  # 1,000 events in 5 s
            floods.event("forged", logging.WARNING, "rejected %s", i)
        assert [r.getMessage() for r in caplog.records] == ["rejected 0"]
        clock.now = 11.0
        floods.event("forged", logging.WARNING, "rejected %s", "late")
        floods.event("other", logging.WARNING, "another kind")
        floods.close()
    assert [r.getMessage() for r in caplog.records] == [
        "rejected 0",
        "rejected 999 (and 999 more like it in 10 s)",
        "rejected late",
        "another kind",
    ]
    assert floods.totals == {"forged": 1001, "other": 1}
