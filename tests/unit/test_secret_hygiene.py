"""Secrets never show (issue 14): not in repr(Config), not in a log line of a wired run, not in a
provider error that echoes only the secret half of an `id|secret` token."""

from __future__ import annotations

import json
import logging
from typing import cast

import pytest

from campaigner.app import logs
from campaigner.app.logs import JsonFormatter
from campaigner.app.wiring import RunWiring
from campaigner.config import Secret, config_from_mapping
from campaigner.providers.http import HttpSession
from campaigner.store.store import Store


def test_repr_of_the_config_masks_the_database_password() -> None:
    config = config_from_mapping({"database": {"url": "postgresql://app:hunter2-pw@db.example.com/cg"}})
    for text in (repr(config), str(config), repr(config.database)):
        assert "hunter2-pw" not in text and "postgresql://app:***@db.example.com/cg" in text
    assert config.database.url == "postgresql://app:hunter2-pw@db.example.com/cg"  # the value is kept


def test_a_provider_error_echoing_the_secret_half_of_the_key_is_masked() -> None:
    session = HttpSession(
        name="t", connect_timeout=1, read_timeout=1, total_timeout=3, secrets=(Secret("17|s3cret-tail"),)
    )
    assert session.redact("bad token 17|s3cret-tail") == "bad token ***"
    assert session.redact('{"error": "unknown key s3cret-tail"}') == '{"error": "unknown key ***"}'
    assert session.redact("HTTP 17 failed") == "HTTP 17 failed"  # the id alone is no secret


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("campaigner.t", logging.WARNING, __file__, 1, message, None, None)


@pytest.fixture
def clean_secrets() -> object:
    saved = set(logs._secrets)
    yield None
    logs._secrets.clear()
    logs._secrets.update(saved)


def test_a_wired_run_registers_its_secrets_with_the_log_redaction(
    monkeypatch: pytest.MonkeyPatch, clean_secrets: object
) -> None:
    monkeypatch.setenv("CG_TEST_KEY", "17|wired-secret-key")
    monkeypatch.setenv("CG_TEST_HOOK", "hook-secret-value")
    monkeypatch.setenv("CAMPAIGNER_DATABASE_URL", "postgresql://app:db-pass-word@db/cg")
    config = config_from_mapping(
        {"provider": {"api_key_env": "CG_TEST_KEY", "webhook_secret_env": "CG_TEST_HOOK"}}
    )
    RunWiring.build(cast(Store, object()), config)  # builds only: no network, no database
    line = JsonFormatter().format(
        _record("auth 17|wired-secret-key; echo wired-secret-key; hook-secret-value; db-pass-word")
    )
    assert json.loads(line)["msg"] == "auth ***; echo ***; ***; ***"
    # A command that set up no logging prints warnings through Python's last-resort handler.
    record = _record("key wired-secret-key")
    assert logging.lastResort is not None
    logging.lastResort.filter(record)
    assert record.getMessage() == "key ***"
