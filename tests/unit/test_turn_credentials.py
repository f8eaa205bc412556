"""TURN REST API credentials: the scheme, the secret file, the settings.

That coturn itself accepts these credentials (and refuses expired or forged ones) is tested
against a real coturn in tests/integration/turn/test_turn_relay.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hearing_server.auth.turn import TurnCredentials, load_turn_secret, turn_credential
from hearing_server.config import ConfigError, IceServer, load_settings
from hearing_server.wiring.signaling import client_ice_servers

SECRET = "an-example-secret-shared-with-coturn-0123"


def test_the_scheme_matches_an_independent_hmac() -> None:
    # printf '%s' '1700000000:participant-1' \
    #   | openssl dgst -sha1 -hmac 'an-example-secret-shared-with-coturn-0123' -binary | base64
    username, credential = turn_credential(SECRET, "participant-1", 1700000000)
    assert username == "1700000000:participant-1"
    assert credential == "8AK5qGuAKjISHXoaxQ8DPoIn9Z4="


def test_a_user_id_with_a_colon_is_refused() -> None:
    with pytest.raises(ValueError, match="':'"):
        turn_credential(SECRET, "a:b", 1700000000)


def test_credentials_expire_after_the_lifetime_and_keep_the_secret_out() -> None:
    now = [1_800_000_000.5]
    issuer = TurnCredentials(
        ["turn:turn.example:3478?transport=udp", "turns:turn.example:443?transport=tcp"],
        SECRET,
        ttl_seconds=3600,
        clock=lambda: now[0],
    )
    first = issuer.ice_server("p1")
    assert first["urls"] == [
        "turn:turn.example:3478?transport=udp",
        "turns:turn.example:443?transport=tcp",
    ]
    assert first["username"] == "1800003600:p1"
    assert first["credential"] == turn_credential(SECRET, "p1", 1800003600)[1]
    now[0] += 60
    assert issuer.ice_server("p1")["username"] == "1800003660:p1"  # fresh for each request
    assert SECRET not in repr(issuer) and SECRET not in str(first)


@pytest.mark.parametrize(
    ("urls", "secret", "ttl"),
    [([], SECRET, 60), (["turn:t:3478"], "short", 60), (["turn:t:3478"], SECRET, 0)],
)
def test_issuer_refuses_unusable_settings(urls: list[str], secret: str, ttl: float) -> None:
    with pytest.raises(ValueError):
        TurnCredentials(urls, secret, ttl)


def test_secret_file_is_created_owner_only_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "var" / "turn_secret"
    first = load_turn_secret(path)
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_turn_secret(path) == first


def test_secret_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "turn_secret"
    path.write_text(SECRET + "\n")
    os.chmod(path, 0o644)
    with pytest.raises(ValueError, match="chmod 600") as refused:
        load_turn_secret(path)
    assert SECRET not in str(refused.value)
    os.chmod(path, 0o600)
    assert load_turn_secret(path) == SECRET


def test_short_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "turn_secret"
    path.write_text("too-short\n")
    os.chmod(path, 0o600)
    with pytest.raises(ValueError, match="shorter than 32"):
        load_turn_secret(path)


def test_turn_settings_from_the_environment() -> None:
    s = load_settings(
        env={
            "HEARING_TURN_URLS": "turn:turn.court.example:3478?transport=udp, "
            "turn:turn.court.example:3478?transport=tcp,turns:turn.court.example:443",
            "HEARING_TURN_SECRET": SECRET,
            "HEARING_TURN_CREDENTIAL_TTL_SECONDS": "600",
        }
    )
    assert s.turn_urls == [
        "turn:turn.court.example:3478?transport=udp",
        "turn:turn.court.example:3478?transport=tcp",
        "turns:turn.court.example:443",
    ]
    assert s.turn_secret == SECRET and s.turn_credential_ttl_seconds == 600.0
    assert SECRET not in repr(s)
    defaults = load_settings(env={})
    assert defaults.turn_urls == [] and defaults.turn_credential_ttl_seconds == 3600.0
    assert defaults.effective_turn_secret_path == Path("var/turn_secret")


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"HEARING_TURN_URLS": "stun:turn.court.example:3478"}, "turn_urls"),
        ({"HEARING_TURN_URLS": "turn:"}, "turn_urls"),
        ({"HEARING_TURN_URLS": "turn:t:3478?transport=sctp"}, "turn_urls"),
        ({"HEARING_TURN_URLS": "turns:t:443?transport=udp"}, "turn_urls"),
        ({"HEARING_TURN_SECRET": "secret-but-short"}, "turn_secret"),
        ({"HEARING_TURN_CREDENTIAL_TTL_SECONDS": "0"}, "turn_credential_ttl_seconds"),
    ],
)
def test_bad_turn_settings_are_named_and_never_echo_a_secret(
    env: dict[str, str], needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle) as refused:
        load_settings(env=env)
    assert "secret-but-short" not in str(refused.value)


def test_clients_get_the_static_servers_and_their_own_turn_credentials(tmp_path: Path) -> None:
    stun = IceServer(["stun:stun.court.example:3478"])
    without = load_settings(env={}, data_dir=tmp_path, ice_servers=[stun])
    assert client_ice_servers(without)("p1") == [{"urls": ["stun:stun.court.example:3478"]}]
    assert not (tmp_path / "turn_secret").exists()  # no TURN: no secret made

    with_turn = load_settings(
        env={}, data_dir=tmp_path, ice_servers=[stun], turn_urls=["turn:127.0.0.1:3478"]
    )
    servers = client_ice_servers(with_turn)("p1")
    secret = (tmp_path / "turn_secret").read_text().strip()  # generated on first use
    assert servers[0] == {"urls": ["stun:stun.court.example:3478"]}
    expiry = int(servers[1]["username"].split(":")[0])
    assert servers[1] == {
        "urls": ["turn:127.0.0.1:3478"],
        "username": f"{expiry}:p1",
        "credential": turn_credential(secret, "p1", expiry)[1],
    }
