"""Confirmation replies: the text of a kind in a language, priced; and their settings checked."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigner.config import config_from_mapping
from campaigner.config_env import ConfigProblems
from campaigner.inbound.confirmations import Confirmations, pick


def test_a_text_or_a_table_of_languages_with_a_default() -> None:
    assert pick("  Bye  ", "fr") == "Bye"
    table = {"default": "Bye", "fr": "Au revoir"}
    assert pick(table, "fr") == "Au revoir"
    assert pick(table, "de") == "Bye"
    assert pick({"en": "Bye"}, "nl") == "Bye"  # no default: English
    assert pick({"fr": "Au revoir"}, "nl") == ""  # nothing for this language: no reply
    assert pick("", "en") == ""


def test_replies_are_off_by_default_and_priced_by_country_when_on() -> None:
    assert Confirmations(config_from_mapping({})).draft("opt_out", "en", "NL") is None
    config = config_from_mapping(
        {
            "compliance": {"help_reply": {"default": "Help " * 40, "fr": "Aide"}},
            "pricing": {"default_per_segment": "0.01", "countries": {"FR": "0.05"}},
        }
    )
    confirmations = Confirmations(config)
    long = confirmations.draft("help", "en", "NL")
    assert long is not None and long.segments == 2 and long.cost == Decimal("0.02")
    short = confirmations.draft("help", "fr", "FR")
    assert short is not None and (short.body, short.segments, short.cost) == ("Aide", 1, Decimal("0.05"))
    assert confirmations.draft("opt_in", "fr", "FR") is None


def test_configured_keywords_reach_the_matcher() -> None:
    config = config_from_mapping(
        {"compliance": {"help_keywords": {"en": ["support"]}, "fuzzy_keywords": True}}
    )
    keywords = Confirmations(config).keywords
    assert keywords.match("SUPPORT").kind == "help"
    assert keywords.match("help").kind == "other"  # English help words replaced
    assert keywords.match("please stop now").fuzzy


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"opt_out_reply": {"english": "Bye"}}, "compliance.opt_out_reply"),
        ({"opt_in_keywords": {"en": [" "]}}, "compliance.opt_in_keywords"),
        ({"opt_out_scope": "brand"}, "compliance.opt_out_scope"),
        ({"reply_batch_size": 0}, "compliance.reply_batch_size"),
    ],
)
def test_bad_settings_are_named(section: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigProblems) as raised:
        config_from_mapping({"compliance": section}, "test.toml")
    assert problem in str(raised.value)
