"""The config loader: defaults, validation errors that name file and key, secrets kept hidden."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from campaigner.config import Secret, example_config_text, load_config
from campaigner.errors import ConfigError


def test_defaults_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAMPAIGNER_CONFIG", raising=False)
    config = load_config(None)
    assert config.provider.requests_per_minute == 60
    assert config.provider.messages_per_second == 10
    assert config.pricing.per_segment("NL") == Decimal("0.008")


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text("[provider]\nrequests_per_minut = 60\n")
    with pytest.raises(ConfigError, match=r"c\.toml: provider\.requests_per_minut: unknown setting"):
        load_config(file)


def test_bad_value_names_key(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text("[provider]\nrequests_per_minute = -1\n")
    with pytest.raises(ConfigError, match=r"provider\.requests_per_minute"):
        load_config(file)


def test_unknown_default_region_names_key(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text('[recipients]\ndefault_region = "ZZ"\n')
    with pytest.raises(ConfigError, match=r"recipients\.default_region: .*'ZZ' is not a region code"):
        load_config(file)
    file.write_text('[recipients]\ndefault_region = " nl "\n')
    assert load_config(file).recipients.default_region == "NL"


def test_a_relative_data_dir_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    file = folder / "c.toml"
    file.write_text('[database]\ndata_dir = "pg"\n')
    monkeypatch.chdir(tmp_path)  # not where the command runs
    assert load_config(file).database.data_dir == str(folder.resolve() / "pg")
    file.write_text('[database]\ndata_dir = "/srv/pg"\n')
    assert load_config(file).database.data_dir == "/srv/pg"


def test_invalid_toml_names_file(tmp_path: Path) -> None:
    file = tmp_path / "broken.toml"
    file.write_text("[provider\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_config(file)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_secret_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY", "17|topsecret")
    config = load_config(None).model_copy(
        update={"provider": load_config(None).provider.model_copy(update={"api_key_env": "TEST_KEY"})}
    )
    key = config.provider.api_key()
    assert key.reveal() == "17|topsecret"
    assert "topsecret" not in repr(key) and "topsecret" not in f"{key}"
    assert key == Secret("17|topsecret")


def test_missing_secret_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLIQTEL_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="CLIQTEL_API_KEY"):
        load_config(None).provider.api_key()


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    load_config(example)


def test_the_shipped_example_is_the_repositorys(tmp_path: Path) -> None:
    # The root file operators read is the one inside the package (`campaigner config example`).
    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    assert example_config_text() == example.read_text(encoding="utf-8")
    copy = tmp_path / "mine.toml"
    copy.write_text(example_config_text(), encoding="utf-8")
    load_config(copy)


def test_ceiling() -> None:
    provider = load_config(None).provider.model_copy(
        update={"recipients_per_request": 500, "requests_per_minute": 60, "messages_per_second": 10}
    )
    assert provider.ceiling_messages_per_second() == 10
    assert load_config(None).provider.ceiling_messages_per_second() == 1


def test_no_named_queries_is_an_error_naming_the_folder(tmp_path: Path) -> None:
    from campaigner.store.database import queries
    from campaigner.store.migrations import available

    with pytest.raises(ConfigError, match=str(tmp_path)):
        queries(tmp_path)
    with pytest.raises(ConfigError, match=str(tmp_path)):
        available(tmp_path)


def test_the_example_lists_every_setting() -> None:
    import tomllib

    from campaigner.config import Config

    example = tomllib.loads(example_config_text())
    text = example_config_text()
    for section, field in Config.model_fields.items():
        for key in getattr(field.annotation, "model_fields", {}):
            # Settings without a default stand commented out ("# sender_number_id = 123").
            assert key in example.get(section, {}) or f"# {key} =" in text, f"[{section}] {key}"
