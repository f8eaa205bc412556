"""A real Redis server for the cluster tests (one per module, flushed between tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.redis_server import RedisServer, RedisUnavailable, find_redis_server


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
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
    redis_server.flush()
    return redis_server.url
