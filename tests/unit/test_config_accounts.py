"""Several provider accounts in one config: [accounts.NAME] next to (or instead of) [provider]."""

from __future__ import annotations

import pytest

from campaigner.config import config_from_mapping
from campaigner.errors import ConfigError


def test_named_accounts_are_accounts_of_their_own_and_provider_stays_the_default() -> None:
    config = config_from_mapping(
        {
            "provider": {"account": "main", "messages_per_second": 10},
            "accounts": {"acme": {"type": "clickatell", "messages_per_second": 5}},
        }
    )
    assert config.account_names() == ["main", "acme"]
    assert config.provider.account == "main"
    acme = config.for_account("acme")
    assert (acme.provider.account, acme.provider.type, acme.provider.messages_per_second) == (
        "acme",
        "clickatell",
        5,
    )
    # Every other section is shared; turning back gives the [provider] account again.
    assert acme.dispatcher == config.dispatcher
    assert acme.for_account("main").provider == config.provider
    assert acme.account_names() == config.account_names()


def test_webhook_routes_are_per_account_and_the_provider_section_keeps_its_old_path() -> None:
    config = config_from_mapping({"accounts": {"acme": {}, "beta": {"type": "clickatell"}}}
                                 | {"provider": {"type": "cliqtel"}})  # fmt: skip
    assert config.webhook_bases() == ["/webhooks/cliqtel", "/webhooks/default"]
    assert config.webhook_bases("acme") == ["/webhooks/acme"]
    assert config.for_account("beta").webhook_bases() == ["/webhooks/beta"]


def test_without_a_provider_section_the_default_account_is_accounts_default_or_the_first() -> None:
    first = config_from_mapping({"accounts": {"zeta": {}, "alpha": {}}})
    assert first.provider.account == "zeta" and first.account_names() == ["zeta", "alpha"]
    named = config_from_mapping({"accounts": {"zeta": {}, "default": {"messages_per_second": 3}}})
    assert named.provider.account == "default" and named.provider.messages_per_second == 3


@pytest.mark.parametrize(
    ("accounts", "provider", "says"),
    [
        ({"a b": {}}, None, "accounts.a b: an account's name is letters, digits, - and _"),
        ({"x": {"account": "y"}}, None, "accounts.x.account: must be 'x' or absent"),
        ({"x": {"nope": 1}}, None, "accounts.x.nope: unknown setting"),
        ({"clickatell": {}}, {"type": "clickatell"}, "its webhooks (/webhooks/clickatell/...) would be"),
        ({"main": {}}, {"account": "main"}, "provider.account: 'main' is also an [accounts.main] section"),
        ({"demo": {}}, None, "reserved for the campaigns of `campaigner demo`"),
    ],
)
def test_account_mistakes_name_the_key(
    accounts: dict[str, object], provider: dict[str, object] | None, says: str
) -> None:
    raw: dict[str, object] = {"accounts": accounts}
    if provider is not None:
        raw["provider"] = provider
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(raw, "campaigner.toml")
    text = str(caught.value)
    assert text.startswith("campaigner.toml:") and says in text, text
    assert "provider." not in text or provider is not None or says.startswith("provider."), text


def test_an_unknown_account_is_a_clear_error() -> None:
    config = config_from_mapping({"accounts": {"acme": {}}}, "campaigner.toml")
    with pytest.raises(ConfigError, match=r"no provider account 'nope' \(accounts: acme\)"):
        config.for_account("nope")
