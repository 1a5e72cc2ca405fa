"""Sessions and CSRF tokens of the dashboard (campaigner.app.web.auth): pure logic, no server."""

from __future__ import annotations

import pytest

from campaigner.app.web.auth import Guard
from campaigner.config import ApiConfig, Secret
from campaigner.errors import ConfigError

TOKEN = "unit-test-token-0123456789"


def test_a_session_is_not_the_token_and_cannot_be_forged_or_outlive_its_expiry() -> None:
    guard = Guard(Secret(TOKEN), session_seconds=60)
    cookie = guard.new_session(now=1000.0)
    assert TOKEN not in cookie
    nonce = guard.session_nonce(cookie, now=1030.0)
    assert nonce is not None
    assert guard.session_nonce(cookie, now=1061.0) is None  # expired
    expiry, n, mac = cookie.split(".")
    assert guard.session_nonce(f"{int(expiry) + 3600}.{n}.{mac}", now=1030.0) is None  # extended: refused
    assert guard.session_nonce(f"{expiry}.{n}.{'0' * len(mac)}", now=1030.0) is None
    assert guard.session_nonce("garbage", now=1030.0) is None
    # Another token signs every session out.
    assert Guard(Secret(TOKEN + "x"), 60).session_nonce(cookie, now=1030.0) is None


def test_csrf_tokens_belong_to_one_session() -> None:
    guard = Guard(Secret(TOKEN), session_seconds=60)
    first, second = (guard.session_nonce(guard.new_session()) for _ in range(2))
    assert first and second and first != second
    assert guard.csrf_ok(first, guard.csrf_token(first))
    assert not guard.csrf_ok(first, guard.csrf_token(second))
    assert not guard.csrf_ok(first, None) and not guard.csrf_ok(first, "")
    assert guard.csrf_token(first) not in (TOKEN, first)


def test_bearer_tokens() -> None:
    guard = Guard(Secret(TOKEN), session_seconds=60)
    assert guard.bearer_ok(f"Bearer {TOKEN}")
    assert not guard.bearer_ok(TOKEN) and not guard.bearer_ok("Bearer nope") and not guard.bearer_ok(None)
    assert TOKEN not in repr(guard)


def test_the_token_comes_from_the_environment_and_must_be_long(monkeypatch: pytest.MonkeyPatch) -> None:
    api = ApiConfig(token_env="CAMPAIGNER_UNIT_API_TOKEN")
    monkeypatch.delenv("CAMPAIGNER_UNIT_API_TOKEN", raising=False)
    assert api.token() is None  # off
    monkeypatch.setenv("CAMPAIGNER_UNIT_API_TOKEN", "short")
    with pytest.raises(ConfigError, match=r"CAMPAIGNER_UNIT_API_TOKEN .* shorter than 16"):
        api.token()
    monkeypatch.setenv("CAMPAIGNER_UNIT_API_TOKEN", TOKEN)
    token = api.token()
    assert token is not None and token.reveal() == TOKEN and TOKEN not in repr(token)
