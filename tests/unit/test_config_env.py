"""CAMPAIGNER_<SECTION>__<KEY>: laid over the file, validated like it, errors naming the variable."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from campaigner.config import load_config
from campaigner.errors import ConfigError


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    file = tmp_path / "c.toml"
    file.write_text('[provider]\nrequests_per_minute = 60\nsender = "+3197010203040"\n')
    return file


def test_a_variable_wins_over_the_file_and_is_read_as_the_fields_type(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMPAIGNER_PROVIDER__REQUESTS_PER_MINUTE", "120")
    monkeypatch.setenv("CAMPAIGNER_PROVIDER__RATE_COUNTS_SEGMENTS", "true")
    monkeypatch.setenv("CAMPAIGNER_DISPATCHER__BATCH_SIZE", "7")
    monkeypatch.setenv("CAMPAIGNER_PRICING__COUNTRIES__NL", "0.07")
    monkeypatch.setenv("CAMPAIGNER_RECIPIENTS__PHONE_COLUMNS", '["gsm", "phone"]')
    config = load_config(config_file)
    assert config.provider.requests_per_minute == 120
    assert config.provider.rate_counts_segments is True
    assert config.provider.sender == "+3197010203040"  # the file's other keys stay
    assert config.dispatcher.batch_size == 7
    assert config.pricing.per_segment("NL") == Decimal("0.07")
    assert config.recipients.phone_columns == ["gsm", "phone"]


def test_variables_apply_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAMPAIGNER_CONFIG", raising=False)
    monkeypatch.setenv("CAMPAIGNER_PROVIDER__TYPE", "clickatell")
    assert load_config(None).provider.type == "clickatell"


def test_commands_own_variables_are_not_settings(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGNER_FORMAT", "json")
    monkeypatch.setenv("CAMPAIGNER_LOG_LEVEL", "DEBUG")
    assert load_config(config_file).provider.requests_per_minute == 60


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PROVIDER__REQUESTS_PER_MINUT", "1", r"provider has no setting 'requests_per_minut'"),
        ("PROVIDRE__TYPE", "x", r"the config has no setting 'providre'"),
        ("PROVIDER__TYPE__X", "x", r"provider\.type is a single setting"),
        ("DATABASE__", "x", r"database has no setting ''"),
        ("RECIPIENTS__PHONE_COLUMNS", "[unclosed", r"not a TOML list"),
        ("PROVIDER__REQUESTS_PER_MINUTE", "-5", r"c\.toml: provider\.requests_per_minute \(from \1\): .*0"),
        ("PROVIDER__MESSAGES_PER_SECOND", "inf", r"\(from \1\): must be a finite number"),
        ("PRICING__COUNTRIES__NL", "-1", r"pricing\.countries\.NL \(from \1\)"),
    ],
)
def test_a_bad_variable_is_an_error_naming_it(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    variable = "CAMPAIGNER_" + variable
    monkeypatch.setenv(variable, value)
    # The message starts with the variable when it names no setting, and names it in brackets when
    # its value is bad (\1 stands for it).
    pattern = message.replace("\\1", re.escape(variable))
    with pytest.raises(ConfigError, match=pattern if "(from" in pattern else f"{variable}: .*{pattern}"):
        load_config(config_file)
