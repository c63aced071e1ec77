from __future__ import annotations

import re
from pathlib import Path

import pytest

from node.settings import Mode, RegistrationPolicy, SettingsError, fields_with_docs, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(ASASAP_[A-Z_]+)`", doc))
    missing = [name for name, *_ in fields_with_docs() if name not in documented]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


def test_defaults() -> None:
    settings = load_settings(env={})
    assert settings.mode is Mode.MARKET
    assert settings.effective_database_url == "sqlite:///var/asasap.db"
    assert settings.allow_private_addresses is False
    assert settings.domain == "127.0.0.1:8000"


def test_environment_overrides_file(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('mode = "cooperative"\nnode_name = "Coop"\nport = 9000\n', encoding="utf-8")
    settings = load_settings(
        env={"ASASAP_NODE_NAME": "Bagnolet", "ASASAP_ALLOW_PRIVATE_ADDRESSES": "yes"}, config_file=config
    )
    assert settings.mode is Mode.COOPERATIVE
    assert settings.node_name == "Bagnolet"
    assert settings.port == 9000
    assert settings.allow_private_addresses is True


def test_config_file_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('registration = "invite"\n', encoding="utf-8")
    assert load_settings(env={"ASASAP_CONFIG": str(config)}).registration is RegistrationPolicy.INVITE


def test_postgres_url_uses_psycopg() -> None:
    settings = load_settings(env={"ASASAP_DATABASE_URL": "postgres://u@h/db"})
    assert settings.effective_database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ASASAP_MODE": "capitalist"}, "ASASAP_MODE"),
        ({"ASASAP_PORT": "eighty"}, "ASASAP_PORT"),
        ({"ASASAP_BASE_URL": "ftp://x"}, "ASASAP_BASE_URL"),
        ({"ASASAP_BASE_URL": "https://x.example/sub"}, "path"),
        ({"ASASAP_ALLOW_PRIVATE_ADDRESSES": "maybe"}, "boolean"),
        ({"ASASAP_DATABASE_URL": "mysql://x"}, "ASASAP_DATABASE_URL"),
        ({"ASASAP_DEFAULT_LANGUAGE": "de"}, "ASASAP_DEFAULT_LANGUAGE"),
        ({"ASASAP_TRUSTED_PROXIES": "127.0.0.1, nginx.local"}, "ASASAP_TRUSTED_PROXIES"),
        ({"ASASAP_METRICS_ALLOW": "10.0.0.0/33"}, "ASASAP_METRICS_ALLOW"),
        ({"ASASAP_LOG_FORMAT": "xml"}, "ASASAP_LOG_FORMAT"),
        ({"ASASAP_BODY_TIMEOUT_SECONDS": "0"}, "ASASAP_BODY_TIMEOUT_SECONDS"),
        ({"ASASAP_LIMIT_BIDS_PER_PERSON_DAY": "many"}, "ASASAP_LIMIT_BIDS_PER_PERSON_DAY"),
        ({"ASASAP_RESEARCH_MIN_PEOPLE": "2"}, "ASASAP_RESEARCH_MIN_PEOPLE"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env=env)


def test_unknown_key_in_file(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('colour = "blue"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="unknown setting"):
        load_settings(env={}, config_file=config)


def test_missing_secret_key_says_what_to_do(tmp_path: Path) -> None:
    settings = load_settings(env={}, data_dir=tmp_path)
    with pytest.raises(SettingsError, match="asasap init"):
        _ = settings.effective_secret_key
