"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hearing_server.config import Settings, load_settings
from support.postgres import PostgresServer, find_bindir
from support.redis_server import RedisServer, RedisUnavailable, find_redis_server
from support.stores import PostgresBackend, SQLiteBackend, StoreBackend

ADMIN_KEY = "test-admin-key-0123456789abcdef0123456789"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for one test: its own data dir, a known admin key, loopback only."""
    return load_settings(
        env={},
        data_dir=tmp_path / "var",
        admin_api_key=ADMIN_KEY,
        public_url="http://127.0.0.1:8080",
        media_announced_addresses=["127.0.0.1"],
        # The composite costs a core-share per hearing; tests that need it turn it on.
        composite_enabled=False,
        # Speech recognition runs a model in a child process; its own tests turn it on.
        transcription_enabled=False,
        # Shedding reacts to how loaded the machine is, which tests do not control; the tests
        # of shedding turn it on and hand the policy its readings themselves.
        overload_shedding=False,
        # Identity checks gate every party's join; the tests of identity set their own
        # policy, the others test what happens after the identity step.
        identity_default_policy="none",
    )


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"X-API-Key": ADMIN_KEY}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session (tests/support/postgres.py), started on
    first use; the tests that need it are skipped where the Debian package is missing."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
            "install the Debian package postgresql"
        )
    server = PostgresServer.start(bindir)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database for one test, dropped after it."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StoreBackend:
    """Runs the test once on each store: the SQLite file and a PostgreSQL database."""
    if request.param == "sqlite":
        return SQLiteBackend(tmp_path / "db.sqlite3")
    return PostgresBackend(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One Redis server for the whole session (tests/support/redis_server.py), on a Unix
    socket, started on first use; flushed for each test by ``redis_url``."""
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    server = RedisServer(binary, Path(tmp_path_factory.mktemp("redis")))
    try:
        server.start()
    except RedisUnavailable as exc:
        pytest.skip(f"redis-server cannot start here: {exc}")
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test."""
    redis_server.flush()
    return redis_server.url
