"""Settings: documented defaults, overridden by an optional TOML file, then by environment.

Every field is listed with its default and environment variable in docs/configuration.md.
Environment variables are ``HEARING_`` + the field name in upper case.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hearing_server.core.errors import ValidationError
from hearing_server.core.identity import IdentityPolicy


class ConfigError(Exception):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True, slots=True)
class IceServer:
    """A STUN/TURN server handed to clients (and used by the server's own peers)."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out


@dataclass(frozen=True, slots=True)
class Settings:
    """All settings of one server process. Immutable once loaded."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # what join links point at; defaults to http://host:port
    data_dir: Path = Path("var")
    database_path: Path | None = None  # default: <data_dir>/hearings.sqlite3
    database_url: str = ""  # postgresql://user@host:5432/db; empty: the SQLite file above
    database_connect_timeout_seconds: float = 30.0  # PostgreSQL: keep trying this long at start
    admin_api_key: str | None = None  # default: generated into <data_dir>/admin_api_key
    # the bearer token Prometheus sends to /metrics; default: generated into
    # <data_dir>/metrics_token (point Prometheus's credentials_file at it)
    metrics_token: str | None = None
    signing_key_path: Path | None = None  # default: <data_dir>/jwt_signing.key
    token_ttl_hours: float = 72.0
    staff_token_ttl_hours: float = 12.0
    max_body_bytes: int = 64 * 1024
    media_announced_addresses: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    # UDP ports the server's media connections bind (both 0: any port the kernel gives)
    media_port_min: int = 0
    media_port_max: int = 0
    ice_servers: list[IceServer] = field(default_factory=list)
    # TURN (coturn with use-auth-secret): clients get short-lived credentials in `join`;
    # empty: no TURN. docs/operations.md "TURN".
    turn_urls: list[str] = field(default_factory=list)
    turn_secret: str | None = field(default=None, repr=False)  # default: read turn_secret_path
    turn_secret_path: Path | None = None  # default: <data_dir>/turn_secret (generated, 0600)
    turn_credential_ttl_seconds: float = 3600.0
    disconnect_grace_seconds: float = 60.0
    redis_url: str | None = None
    # Several nodes (with redis_url): this node's id and the URL its clients reach it at.
    node_id: str = ""  # default: <host name>:<port>; keep it stable across restarts
    node_url: str = ""  # default: public_url
    hearing_lease_seconds: float = 5.0  # a dead node's hearings move after at most this
    hearing_idle_release_seconds: float = 300.0  # nobody connected this long: place anew
    # where a node puts a hearing nobody serves: "here" while calm (nodes behind a load
    # balancer), or "spread" over the nodes by their number of hearings (serve's workers)
    hearing_placement: str = "here"
    redis_connect_timeout_seconds: float = 30.0  # keep trying this long at start
    # worker processes of `serve` on this machine, each a node of the above (needs redis_url);
    # 0: one per CPU core. docs/operations.md "Several workers on one machine"
    workers: int = 1
    recordings_dir: Path | None = None  # default: <data_dir>/recordings
    recording_auto_start: bool = True
    composite_enabled: bool = True
    transcription_enabled: bool = True
    transcription_engine: str = "faster-whisper"
    # A court's own CTranslate2 Whisper model instead of the bundled Whisper base (Mandarin
    # and every language but English); pinned by the SHA-256 of its model.bin and/or a
    # SHA256SUMS file in the folder. English hearings keep the bundled tiny.en.
    transcription_model_dir: Path | None = None
    transcription_model_sha256: str | None = None  # hex SHA-256 of the folder's model.bin
    # A hearing's captions and transcript language when the hearing names none: zh-CN
    # (Mandarin, Simplified characters), en, or auto (detected per utterance).
    transcription_language: str = "zh-CN"
    court_timezone: str | None = None  # IANA name, e.g. Asia/Shanghai; default: server's zone
    # The court's phone number for a participant who is stuck (the self-test, the end and
    # error screens show it next to "ask the clerk for help"); empty: none shown.
    court_phone: str = ""
    recording_segment_seconds: float = 10.0
    recording_key_path: Path | None = None  # default: <data_dir>/recording_ed25519.key
    livestream_dir: Path | None = None  # default: <data_dir>/livestream
    livestream_delay_seconds: float = 30.0  # the broadcast delay unless the judge sets one
    livestream_segment_seconds: float = 2.0
    livestream_requests_per_second: float = 20.0  # per client address, on the public URLs
    # abuse limits (docs/operations.md "Abuse limits"): requests a minute to the routes that
    # check or issue a secret (staff tokens, links, identity), per client address and per
    # secret presented; socket.io connections open at once per client address
    login_requests_per_minute: float = 60.0
    login_requests_per_minute_per_token: float = 30.0
    max_connections_per_address: int = 50
    # reverse proxies (addresses or CIDR networks) whose X-Forwarded-For names the client;
    # empty: the socket peer is the client
    trusted_proxies: list[str] = field(default_factory=list)
    web_client_dir: Path | None = None  # default: the checkout's web_client/
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one object per line (hearing_server/logs.py)
    shutdown_grace_seconds: float = 20.0  # then child processes still running are stopped
    overload_shedding: bool = True  # shed video, then the composite's rate, when overloaded
    overload_lag_ms: float = 80.0  # event-loop lag (p95 over 2 s) that counts as overloaded
    overload_drops: int = 1  # datagrams dropped on our sockets per second that count too
    # identity checks (docs/domain.md "Identity"): a preset or JSON {role: [steps]}. The
    # issue's default: everyone who speaks passes ID, code, face and liveness (a person with
    # no reference photo is verified by the clerk); the demo hearing asks for ID and code.
    identity_default_policy: str = "standard"
    identity_key_path: Path | None = None  # default: <data_dir>/identity_hmac.key
    identity_code_recipient: str = ""  # phone or email; default: email for smtp, else phone
    # face match and liveness (docs/identity.md)
    face_checks_enabled: bool = True  # the face worker process and the camera check
    face_match_threshold: float = 0.5  # distance at or under which faces match (measured)
    biometrics_dir: Path | None = None  # default: <data_dir>/biometrics (owner-only)
    biometrics_retention_days: float = 30.0  # photos and encodings kept after a hearing closes
    biometrics_purge_interval_seconds: float = 3600.0
    # sending messages (one-time codes): outbox, smtp or http
    message_sender: str = "outbox"
    message_outbox_dir: Path | None = None  # default: <data_dir>/outbox
    message_send_attempts: int = 3
    message_retry_seconds: float = 1.0  # then twice that, and so on
    message_timeout_seconds: float = 10.0
    message_smtp_host: str = ""
    message_smtp_port: int = 587
    message_smtp_security: str = "starttls"  # starttls, tls or none
    message_smtp_username: str | None = None
    message_smtp_password: str | None = None
    message_smtp_from: str = ""
    message_http_url: str = ""
    message_http_auth_header: str | None = None  # "Name: value"
    message_http_body_template: str = '{"to": "{recipient}", "text": "{text}"}'
    # the durable job queue (messages sent later or again, reminders): docs/jobs.md
    jobs_enabled: bool = True  # run due jobs in this server (off: jobs wait in the store)
    jobs_lease_seconds: float = 120.0  # a claimed job is taken again after this (crash)
    jobs_poll_seconds: float = 5.0  # look for jobs other servers enqueued this often
    jobs_retry_seconds: float = 30.0  # the first retry's wait, then twice that, up to 1 h
    jobs_max_attempts: int = 6
    jobs_concurrency: int = 4  # jobs run at once
    # electronic service (电子送达): docs/serving.md
    serving_link_days: float = 7.0  # a tracking link opens for this long
    serving_follow_up_days: float = 3.0  # not opened after this: on the clerk's call list
    serving_max_document_bytes: int = 20 * 1024 * 1024
    serving_callback_secret: str | None = None  # HMAC key of the SMS gateway's callbacks
    serving_key_path: Path | None = None  # default: <data_dir>/serving_hmac.key
    # scheduling: the court's courtrooms (names); empty: any name is taken. docs/scheduling.md
    courtrooms: list[str] = field(default_factory=list)
    # mediation agreements: who seals them, the signing CA and the timestamp authority
    agreement_organisation: str = "人民调解委员会"
    signing_dir: Path | None = None  # default: <data_dir>/esign (the embedded CA and TSA)
    signing_ca_cert_path: Path | None = None  # a real CA instead of the embedded one
    signing_ca_key_path: Path | None = None
    timestamp_url: str = ""  # an external RFC 3161 TSA; default: this server's own
    # the organisation's seal key on a PKCS#11 token instead of a file (all three, or none)
    signing_pkcs11_module: Path | None = None  # e.g. /usr/lib/softhsm/libsofthsm2.so
    signing_pkcs11_token: str | None = None  # the token's label
    signing_pkcs11_key: str | None = None  # the private key's label
    signing_pkcs11_pin: str | None = None
    signing_pkcs11_pin_file: Path | None = None  # the PIN on its first line, instead of the PIN
    # evidence (docs/evidence.md): sealed exhibit files and uploads in progress
    evidence_dir: Path | None = None  # default: <data_dir>/evidence
    evidence_max_bytes: int = 200 * 1024 * 1024  # the largest exhibit file

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def media_port_range(self) -> tuple[int, int] | None:
        """The inclusive UDP port range of the server's media, None for any port."""
        if self.media_port_min == 0 and self.media_port_max == 0:
            return None
        return (self.media_port_min, self.media_port_max)

    @property
    def effective_node_id(self) -> str:
        return self.node_id or f"{socket.gethostname()}:{self.port}"

    @property
    def effective_node_url(self) -> str:
        return (self.node_url or self.effective_public_url).rstrip("/")

    @property
    def effective_database_path(self) -> Path:
        return self.database_path or self.data_dir / "hearings.sqlite3"

    @property
    def effective_signing_key_path(self) -> Path:
        return self.signing_key_path or self.data_dir / "jwt_signing.key"

    @property
    def effective_recordings_dir(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    @property
    def effective_evidence_dir(self) -> Path:
        return self.evidence_dir or self.data_dir / "evidence"

    @property
    def effective_livestream_dir(self) -> Path:
        return self.livestream_dir or self.data_dir / "livestream"

    @property
    def effective_recording_key_path(self) -> Path:
        return self.recording_key_path or self.data_dir / "recording_ed25519.key"

    @property
    def effective_identity_key_path(self) -> Path:
        return self.identity_key_path or self.data_dir / "identity_hmac.key"

    @property
    def effective_signing_dir(self) -> Path:
        return self.signing_dir or self.data_dir / "esign"

    @property
    def effective_biometrics_dir(self) -> Path:
        return self.biometrics_dir or self.data_dir / "biometrics"

    @property
    def effective_serving_key_path(self) -> Path:
        return self.serving_key_path or self.data_dir / "serving_hmac.key"

    @property
    def effective_court_timezone(self) -> str:
        """The court's zone for times in messages: ``court_timezone`` or Asia/Shanghai."""
        return self.court_timezone or "Asia/Shanghai"

    @property
    def effective_outbox_dir(self) -> Path:
        return self.message_outbox_dir or self.data_dir / "outbox"

    @property
    def effective_code_recipient(self) -> str:
        if self.identity_code_recipient:
            return self.identity_code_recipient
        return "email" if self.message_sender == "smtp" else "phone"

    @property
    def identity_policy(self) -> IdentityPolicy:
        """The default identity policy of new hearings (validated when settings load)."""
        return IdentityPolicy.parse(self.identity_default_policy)

    @property
    def effective_turn_secret_path(self) -> Path:
        return self.turn_secret_path or self.data_dir / "turn_secret"

    @property
    def admin_api_key_path(self) -> Path:
        return self.data_dir / "admin_api_key"

    @property
    def metrics_token_path(self) -> Path:
        return self.data_dir / "metrics_token"

    @property
    def run_dir(self) -> Path:
        """The running server's lock and its child processes' records (lifeline.RunDir)."""
        return self.data_dir / "run"


#: every bool setting, read from its declared type: a switch missing from a hand-kept list
#: was read as a string, and "false" is a true string
_SWITCHES = frozenset(f.name for f in fields(Settings) if f.type in (bool, "bool"))


def _convert(name: str, raw: Any) -> Any:
    """Turn a TOML or environment value into the field's type."""
    try:
        if name in {
            "port",
            "max_body_bytes",
            "message_smtp_port",
            "message_send_attempts",
            "evidence_max_bytes",
            "jobs_max_attempts",
            "jobs_concurrency",
            "serving_max_document_bytes",
            "max_connections_per_address",
        }:
            value = int(raw)
            if value <= 0:
                raise ValueError("must be positive")
            return value
        if name == "workers":
            text = str(raw).strip().lower()
            count = 0 if text == "auto" else int(text)
            if count < 0:
                raise ValueError("must be a number of processes, or 0 or auto for one per core")
            return count
        if name in {"media_port_min", "media_port_max"}:
            port = int(raw)
            if port != 0 and not 1024 <= port <= 65535:
                raise ValueError("must be 0 (any port) or a port from 1024 to 65535")
            return port
        if name in _SWITCHES:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError("must be true or false")
            return text in {"true", "1", "yes"}
        if name in {
            "token_ttl_hours",
            "staff_token_ttl_hours",
            "disconnect_grace_seconds",
            "recording_segment_seconds",
            "livestream_delay_seconds",
            "livestream_segment_seconds",
            "livestream_requests_per_second",
            "login_requests_per_minute",
            "login_requests_per_minute_per_token",
            "shutdown_grace_seconds",
            "message_retry_seconds",
            "message_timeout_seconds",
            "database_connect_timeout_seconds",
            "biometrics_retention_days",
            "biometrics_purge_interval_seconds",
            "jobs_lease_seconds",
            "jobs_poll_seconds",
            "jobs_retry_seconds",
            "serving_link_days",
            "serving_follow_up_days",
            "turn_credential_ttl_seconds",
            "hearing_lease_seconds",
            "hearing_idle_release_seconds",
            "redis_connect_timeout_seconds",
        }:
            value_f = float(raw)
            if value_f <= 0:
                raise ValueError("must be positive")
            return value_f
        if name in {
            "data_dir",
            "database_path",
            "signing_key_path",
            "recordings_dir",
            "evidence_dir",
            "livestream_dir",
            "recording_key_path",
            "transcription_model_dir",
            "web_client_dir",
            "identity_key_path",
            "message_outbox_dir",
            "signing_dir",
            "signing_ca_cert_path",
            "signing_ca_key_path",
            "biometrics_dir",
            "signing_pkcs11_module",
            "signing_pkcs11_pin_file",
            "serving_key_path",
            "turn_secret_path",
        }:
            return Path(raw) if raw not in (None, "") else None
        if name == "courtrooms":
            items = raw if isinstance(raw, list) else str(raw).split(",")
            rooms = [str(a).strip() for a in items if str(a).strip()]
            if any(len(r) > 100 or not r.isprintable() for r in rooms):
                raise ValueError("each courtroom is a name of at most 100 printable characters")
            return rooms
        if name == "trusted_proxies":
            items = raw if isinstance(raw, list) else str(raw).split(",")
            proxies = [str(a).strip() for a in items if str(a).strip()]
            for item in proxies:
                ipaddress.ip_network(item, strict=False)  # ValueError names the bad one
            return proxies
        if name == "media_announced_addresses":
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return [str(a).strip() for a in items if str(a).strip()]
        if name == "turn_urls":
            return _turn_urls(raw)
        if name == "turn_secret":
            if raw in (None, ""):
                return None
            if len(str(raw).strip()) < 32:
                # the message must not echo the value: it is a secret
                raise ValueError("must be at least 32 characters")
            return str(raw).strip()
        if name == "ice_servers":
            data = json.loads(raw) if isinstance(raw, str) else raw
            if not isinstance(data, list):
                raise ValueError("must be a list of {urls, username?, credential?}")
            servers = []
            for item in data:
                urls = item["urls"]
                servers.append(
                    IceServer(
                        urls=[urls] if isinstance(urls, str) else list(urls),
                        username=item.get("username"),
                        credential=item.get("credential"),
                    )
                )
            return servers
        if name == "court_phone":
            phone = str(raw or "").strip()
            if len(phone) > 32 or any(c not in "0123456789+-() " for c in phone):
                raise ValueError("must be a phone number: digits, spaces, + - ( ), at most 32")
            return phone
        if name == "court_timezone":
            if raw in (None, ""):
                return None
            ZoneInfo(str(raw))  # raises for an unknown zone
            return str(raw)
        if name == "face_match_threshold":
            value_t = float(raw)
            if not 0.0 < value_t < 2.0:
                raise ValueError("must be a distance between 0 and 2")
            return value_t
        if name == "hearing_placement":
            if raw not in ("here", "spread"):
                raise ValueError("must be here or spread")
            return str(raw)
        if name == "transcription_language":
            if raw not in ("zh-CN", "en", "auto"):
                raise ValueError("must be zh-CN, en or auto")
            return str(raw)
        if name == "transcription_model_sha256":
            if raw in (None, ""):
                return None
            digest = str(raw).strip().lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError("must be the 64 hex digits of a SHA-256")
            return digest
        if name == "transcription_engine":
            if raw not in ("faster-whisper", "pocketsphinx"):
                raise ValueError("must be faster-whisper or pocketsphinx")
            return str(raw)
        if name == "identity_default_policy":
            IdentityPolicy.parse(str(raw))  # raises for an unknown preset or a bad policy
            return str(raw)
        if name == "identity_code_recipient":
            if raw not in ("", "phone", "email"):
                raise ValueError("must be phone or email")
            return str(raw)
        if name == "message_sender":
            if raw not in ("outbox", "smtp", "http"):
                raise ValueError("must be outbox, smtp or http")
            return str(raw)
        if name == "message_smtp_security":
            if raw not in ("starttls", "tls", "none"):
                raise ValueError("must be starttls, tls or none")
            return str(raw)
        if name == "message_http_body_template":
            if not isinstance(json.loads(str(raw)), dict):
                raise ValueError("must be a JSON object")
            return str(raw)
        if name == "message_http_auth_header":
            if raw not in (None, "") and ":" not in str(raw):
                raise ValueError("must look like 'Name: value'")
            return str(raw) if raw not in (None, "") else None
        if name == "database_url":
            return _database_url(raw)
        if name == "metrics_token":
            if raw in (None, ""):
                return None
            token = str(raw).strip()
            if len(token) < 16 or any(c.isspace() for c in token):
                raise ValueError("must be at least 16 characters, without spaces")
            return token
        if name in {
            "admin_api_key",
            "redis_url",
            "message_smtp_username",
            "message_smtp_password",
            "signing_pkcs11_token",
            "signing_pkcs11_key",
            "signing_pkcs11_pin",
            "serving_callback_secret",
        }:
            return str(raw) if raw not in (None, "") else None
        return str(raw)
    except ValidationError as exc:
        raise ConfigError(f"setting {name}: {exc.message}") from exc
    except (ValueError, KeyError, TypeError, json.JSONDecodeError, ZoneInfoNotFoundError) as exc:
        raise ConfigError(f"setting {name}: {exc}") from exc


def _turn_urls(raw: Any) -> list[str]:
    """TURN URLs as RFC 7065 writes them: turn:host[:port][?transport=udp|tcp] or turns:...."""
    items = raw if isinstance(raw, list) else str(raw).split(",")
    urls = [str(u).strip() for u in items if str(u).strip()]
    for url in urls:
        scheme, _, rest = url.partition(":")
        host, _, query = rest.partition("?")
        if scheme not in ("turn", "turns") or not host or host.startswith("/"):
            raise ValueError(f"{url!r} is not a turn: or turns: URL (turn:host:3478?transport=udp)")
        if query and query not in ("transport=udp", "transport=tcp"):
            raise ValueError(f"{url!r}: the only query is ?transport=udp or ?transport=tcp")
        if scheme == "turns" and query == "transport=udp":
            raise ValueError(f"{url!r}: turns: runs over TLS, i.e. TCP")
    return urls


def _database_url(raw: Any) -> str:
    """Empty (the embedded SQLite store) or a PostgreSQL URL that asyncpg can use."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise ValueError("must be a postgresql:// URL (or empty for the SQLite file)")
    url = raw.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("must be a postgresql:// URL (or empty for the SQLite file)")
    _ = parts.port  # raises ValueError for a port that is not a number in range
    return url


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Load settings: defaults < TOML file < environment < keyword overrides.

    The file may also be named by ``HEARING_CONFIG``.
    """
    environ = dict(os.environ if env is None else env)
    names = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}
    path = config_file or environ.get("HEARING_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {path}: {exc}") from exc
        for key, raw in data.items():
            if key not in names:
                raise ConfigError(f"config file {path}: unknown setting {key!r}")
            values[key] = _convert(key, raw)
    for name in names:
        raw_env = environ.get(f"HEARING_{name.upper()}")
        if raw_env is not None:
            values[name] = _convert(name, raw_env)
    for key, raw in overrides.items():
        if key not in names:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = raw
    if values.get("data_dir") is None:
        values.pop("data_dir", None)
    settings = Settings(**values)
    _check_sender(settings)
    _check_token(settings)
    _check_media_ports(settings)
    if settings.log_format not in ("text", "json"):
        raise ConfigError("log_format must be text or json")
    return settings


def _check_media_ports(s: Settings) -> None:
    """A media port range has both ends, in order, and room for a hearing."""
    if (s.media_port_min == 0) != (s.media_port_max == 0):
        raise ConfigError("set both media_port_min and media_port_max (or neither)")
    if s.media_port_min > s.media_port_max:
        raise ConfigError("media_port_min must not be above media_port_max")


def _check_token(s: Settings) -> None:
    """A PKCS#11 seal key is named completely, or not at all."""
    named = (s.signing_pkcs11_module, s.signing_pkcs11_token, s.signing_pkcs11_key)
    if any(v is not None for v in named) and not all(v is not None for v in named):
        raise ConfigError(
            "a PKCS#11 seal key needs signing_pkcs11_module, signing_pkcs11_token and "
            "signing_pkcs11_key"
        )
    if s.signing_pkcs11_pin is not None and s.signing_pkcs11_pin_file is not None:
        raise ConfigError("give signing_pkcs11_pin or signing_pkcs11_pin_file, not both")


def _check_sender(s: Settings) -> None:
    """The chosen message sender has what it needs."""
    if s.message_sender == "smtp" and not (s.message_smtp_host and s.message_smtp_from):
        raise ConfigError("message_sender smtp needs message_smtp_host and message_smtp_from")
    if s.message_sender == "http" and not s.message_http_url.startswith(("http://", "https://")):
        raise ConfigError("message_sender http needs message_http_url (http:// or https://)")
