"""The tests' Redis server: ``testbed.redis_server``, shared with the benchmarks."""

from __future__ import annotations

from testbed.redis_server import RedisServer, RedisUnavailable, find_redis_server

__all__ = ["RedisServer", "RedisUnavailable", "find_redis_server"]
