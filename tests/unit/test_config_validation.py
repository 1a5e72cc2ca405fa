"""Config validation (issue 14): each mistake a clear error naming its key, all of them at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaigner.config import DEMO_ACCOUNT, config_from_mapping, load_config
from campaigner.errors import ConfigError


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[provider]\nmessages_per_second = inf\n", "provider.messages_per_second: must be a finite number"),
        ("[provider]\nwindow_margin = nan\n", "provider.window_margin: must be a finite number"),
        ("[pricing]\ndefault_per_segment = -0.01\n", "pricing.default_per_segment: Input should be greater"),
        ("[pricing.countries]\nNL = -0.01\n", "pricing.countries.NL: Input should be greater"),
        ('[provider]\napi_key_env = ""\n', "provider.api_key_env: '' is not an environment variable"),
        ("[database]\npool_min_size = 20\n", "database: pool_min_size (20) is larger than pool_max_size"),
        ("mesages_per_second = 5\n", "mesages_per_second: unknown setting (sections: database,"),
        ('source = "elsewhere"\n', "source: unknown setting"),
        ('[recipients]\nencoding = "rot13"\n', "recipients.encoding: 'rot13' is not a text encoding"),
        (f'[provider]\naccount = "{DEMO_ACCOUNT}"\n', "provider.account: 'demo' is reserved"),
    ],
)
def test_each_mistake_is_a_clear_error_naming_its_key(tmp_path: Path, toml: str, expected: str) -> None:
    path = tmp_path / "campaigner.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ") and expected in str(caught.value)


def test_every_mistake_is_reported_at_once() -> None:
    raw = {
        "provider": {"messages_per_second": float("inf"), "api_key_env": ""},
        "pricing": {"countries": {"DE": -1}},
        "database": {"pool_min_size": 5, "pool_max_size": 2},
        "extra": 1,
    }
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(raw, source="c.toml")
    message = str(caught.value)
    for key in (
        "provider.messages_per_second",
        "provider.api_key_env",
        "pricing.countries.DE",
        "database: pool_min_size",
        "extra: unknown setting",
    ):
        assert key in message
    assert "\n" not in message


def test_the_source_is_still_recorded() -> None:
    assert config_from_mapping({}, source="x.toml").source == "x.toml"


def test_a_source_key_is_reported_with_the_other_mistakes() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({"source": "x", "provider": {"requests_per_minute": float("nan")}}, "c.toml")
    assert "source: unknown setting" in str(caught.value)
    assert "provider.requests_per_minute: must be a finite number" in str(caught.value)
