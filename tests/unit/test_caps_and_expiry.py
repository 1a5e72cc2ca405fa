"""The pure parts of frequency caps and message validity: their settings, options and the preview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campaigner.app.source_checks import parse_validity
from campaigner.cli.preview_table import expiry_warning
from campaigner.config import config_from_mapping, parse_duration, parse_frequency_cap
from campaigner.errors import ConfigError, UserError
from campaigner.planning.planner import Preview
from campaigner.planning.pricing import expiring_at_eta


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("90m", 5400), ("24h", 86400), ("1h30m", 5400), ("2d", 172800), ("45", 45), ("1.5h", 5400)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "x") == seconds


@pytest.mark.parametrize("text", ["", "soon", "10 parsecs", "0s", "-5", "1h and 2m", "inf"])
def test_bad_durations_name_the_setting(text: str) -> None:
    with pytest.raises(ValueError, match=r"^--valid-for: "):
        parse_duration(text, "--valid-for")


def test_frequency_caps() -> None:
    assert parse_frequency_cap("1/24h") == (1, 86400.0)
    assert parse_frequency_cap(" 3 / 7d ") == (3, 604800.0)
    assert parse_frequency_cap("") is None
    for bad in ("1", "0/24h", "a/24h", "1/forever", "1/24h/2"):
        with pytest.raises(ValueError, match=r"^compliance\.frequency_cap: "):
            parse_frequency_cap(bad, "compliance.frequency_cap")


def test_the_compliance_keys_are_checked_when_the_config_is_read() -> None:
    config = config_from_mapping(
        {
            "compliance": {"frequency_cap": "2/12h", "frequency_cap_action": "wait"},
            "dispatcher": {"valid_for": "6h"},
        }
    )
    assert config.compliance.frequency_cap_limit() == (2, 43200.0)
    assert config.compliance.frequency_cap_action == "wait"
    assert config.dispatcher.valid_for_seconds() == 21600.0
    assert config_from_mapping({}).compliance.frequency_cap_limit() is None
    assert config_from_mapping({}).dispatcher.valid_for_seconds() is None
    with pytest.raises(ConfigError, match="frequency_cap"):
        config_from_mapping({"compliance": {"frequency_cap": "once a day"}})
    with pytest.raises(ConfigError, match="frequency_cap_action"):
        config_from_mapping({"compliance": {"frequency_cap_action": "drop"}})
    with pytest.raises(ConfigError, match="valid_for"):
        config_from_mapping({"dispatcher": {"valid_for": "a while"}})


def test_validity_options() -> None:
    assert parse_validity("30s", None) == (timedelta(seconds=30), None)
    assert parse_validity(None, None) == (None, None)
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    valid_for, valid_until = parse_validity(None, until)
    assert valid_for is None and valid_until == datetime.fromisoformat(until)


def test_bad_validity_options_say_which_and_why() -> None:
    with pytest.raises(UserError, match="at most one of --valid-for and --valid-until"):
        parse_validity("1h", "2030-01-01T00:00+00:00")
    with pytest.raises(UserError, match="--valid-for: 'a while' is not a duration"):
        parse_validity("a while", None)
    with pytest.raises(UserError, match="--valid-until: 'tomorrow' is not an ISO 8601 time"):
        parse_validity(None, "tomorrow")
    with pytest.raises(UserError, match=r"--valid-until: .* is in the past"):
        parse_validity(None, "2020-01-01T00:00+00:00")
    send_at = datetime.now(UTC) + timedelta(hours=3)
    with pytest.raises(UserError, match="not after the send time"):
        parse_validity(None, (send_at - timedelta(hours=1)).isoformat(), send_at)


def test_what_would_expire_at_the_eta() -> None:
    assert expiring_at_eta(40_000, 40_000.0, 21_600.0) == 18_400
    assert expiring_at_eta(40_000, 20_000.0, 21_600.0) == 0
    assert expiring_at_eta(0, 10.0, 1.0) == 0


def test_the_preview_warns_when_the_eta_passes_the_validity() -> None:
    preview = Preview(sendable=40_000, eta_seconds=40_000.0, valid_for_seconds=21_600.0, expiring=18_400)
    assert expiry_warning(preview) == (
        "Warning: 40,000 messages at 1 msg/s take 11 h 6 min; 18,400 would expire (valid for 6 h)"
    )
    assert expiry_warning(Preview(sendable=10, eta_seconds=1.0, valid_for_seconds=60.0)) is None
