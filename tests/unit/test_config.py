"""Settings: defaults, file, environment, and clear errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hearing_server.config import ConfigError, IceServer, Settings, load_settings


def test_defaults_are_embedded() -> None:
    s = load_settings(env={})
    assert s.host == "127.0.0.1" and s.port == 8080
    assert s.effective_database_path == Path("var/hearings.sqlite3")
    assert s.redis_url is None and s.ice_servers == []
    assert s.media_announced_addresses == ["127.0.0.1"]
    assert s.effective_public_url == "http://127.0.0.1:8080"
    assert s.shutdown_grace_seconds == 20.0 and s.run_dir == Path("var/run")
    assert s.database_url == "" and s.database_connect_timeout_seconds == 30.0


def test_file_then_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'port = 9000\nlog_level = "DEBUG"\n'
        'ice_servers = [{urls = "turn:127.0.0.1:3478", username = "u", credential = "p"}]\n'
    )
    s = load_settings(
        cfg,
        env={"HEARING_PORT": "9100", "HEARING_MEDIA_ANNOUNCED_ADDRESSES": "127.0.0.1, 10.0.0.5"},
    )
    assert s.port == 9100 and s.log_level == "DEBUG"
    assert s.ice_servers == [IceServer(["turn:127.0.0.1:3478"], "u", "p")]
    assert s.media_announced_addresses == ["127.0.0.1", "10.0.0.5"]


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"HEARING_PORT": "eighty"}, "port"),
        ({"HEARING_PORT": "-1"}, "port"),
        ({"HEARING_ICE_SERVERS": "{not json"}, "ice_servers"),
        ({"HEARING_ICE_SERVERS": '[{"username": "x"}]'}, "ice_servers"),
        ({"HEARING_COURT_TIMEZONE": "Mars/Olympus"}, "court_timezone"),
        ({"HEARING_COURT_PHONE": "call 010-1234"}, "court_phone"),
        ({"HEARING_COMPOSITE_ENABLED": "maybe"}, "composite_enabled"),
        ({"HEARING_SHUTDOWN_GRACE_SECONDS": "0"}, "shutdown_grace_seconds"),
        ({"HEARING_DATABASE_URL": "mysql://db/hearings"}, "database_url"),
        ({"HEARING_DATABASE_URL": "hearings.sqlite3"}, "database_url"),
        ({"HEARING_DATABASE_URL": "postgresql://db:port/hearings"}, "database_url"),
        ({"HEARING_DATABASE_URL": "postgresql://db:99999/hearings"}, "database_url"),
        ({"HEARING_DATABASE_CONNECT_TIMEOUT_SECONDS": "0"}, "database_connect_timeout"),
        ({"HEARING_TRANSCRIPTION_LANGUAGE": "zh"}, "transcription_language"),
        ({"HEARING_TRANSCRIPTION_LANGUAGE": "fr"}, "transcription_language"),
        ({"HEARING_TRANSCRIPTION_MODEL_SHA256": "abc"}, "transcription_model_sha256"),
        ({"HEARING_TRANSCRIPTION_MODEL_SHA256": "g" * 64}, "transcription_model_sha256"),
        ({"HEARING_METRICS_TOKEN": "short"}, "metrics_token"),
        ({"HEARING_METRICS_TOKEN": "a token with spaces in it"}, "metrics_token"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(env=env)


def test_unknown_key_in_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="prot"):
        load_settings(cfg, env={})


def test_database_url_selects_postgresql_and_empty_keeps_sqlite(tmp_path: Path) -> None:
    url = "postgresql://hearing@127.0.0.1:5432/hearings"
    s = load_settings(env={"HEARING_DATABASE_URL": f" {url} "})
    assert s.database_url == url
    cfg = tmp_path / "c.toml"
    cfg.write_text('database_url = ""\ndatabase_connect_timeout_seconds = 5\n')
    s = load_settings(cfg, env={})
    assert s.database_url == "" and s.database_connect_timeout_seconds == 5.0
    assert load_settings(env={"HEARING_DATABASE_URL": "postgres://h/db"}).database_url


def test_a_pkcs11_seal_key_is_named_completely_or_not_at_all() -> None:
    named = {
        "HEARING_SIGNING_PKCS11_MODULE": "/usr/lib/softhsm/libsofthsm2.so",
        "HEARING_SIGNING_PKCS11_TOKEN": "court-seal",
        "HEARING_SIGNING_PKCS11_KEY": "org-seal",
    }
    s = load_settings(env={**named, "HEARING_SIGNING_PKCS11_PIN_FILE": "/run/secrets/pin"})
    assert s.signing_pkcs11_module == Path("/usr/lib/softhsm/libsofthsm2.so")
    assert s.signing_pkcs11_pin_file == Path("/run/secrets/pin") and s.signing_pkcs11_pin is None
    for missing in named:
        partial = {k: v for k, v in named.items() if k != missing}
        with pytest.raises(ConfigError, match="signing_pkcs11_module"):
            load_settings(env=partial)
    with pytest.raises(ConfigError, match="not both"):
        load_settings(
            env={
                **named,
                "HEARING_SIGNING_PKCS11_PIN": "1234",
                "HEARING_SIGNING_PKCS11_PIN_FILE": "/run/secrets/pin",
            }
        )


def test_transcription_language_and_a_court_model() -> None:
    assert load_settings(env={}).transcription_language == "zh-CN"  # Chinese courts' default
    digest = "AB" * 32
    s = load_settings(
        env={
            "HEARING_TRANSCRIPTION_LANGUAGE": "auto",
            "HEARING_TRANSCRIPTION_MODEL_DIR": "/srv/models/whisper-small-ct2",
            "HEARING_TRANSCRIPTION_MODEL_SHA256": digest,
        }
    )
    assert s.transcription_language == "auto"
    assert s.transcription_model_dir == Path("/srv/models/whisper-small-ct2")
    assert s.transcription_model_sha256 == digest.lower()


def test_every_switch_reads_false_from_the_environment() -> None:
    """A bool setting given "false" must be False (a string would be truthy)."""
    switches = [f.name for f in dataclasses.fields(Settings) if f.type in (bool, "bool")]
    assert "overload_shedding" in switches
    env = {f"HEARING_{name.upper()}": "false" for name in switches}
    s = load_settings(env=env)
    assert all(getattr(s, name) is False for name in switches), [
        name for name in switches if getattr(s, name) is not False
    ]
