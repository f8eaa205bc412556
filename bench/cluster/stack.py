"""The benchmarks' cluster: one redis-server, one PostgreSQL, two ``hearing-server serve``
processes sharing them, all on this machine (testbed starts each), and what is read off them
while they run (RSS, Redis counters, who serves which hearing)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from testbed.nodes import ADMIN_KEY, ServerProcess, start_server_process
from testbed.postgres import PostgresServer, find_bindir
from testbed.redis_server import RedisServer, find_redis_server

# The key prefix of cluster/redis_leases.py: ``owner:<hearing>`` holds the serving node's id.
OWNER_KEY = "hearing-server:owner:{}"


@dataclass
class Cluster:
    """The running services; ``nodes`` by name ("a", "b")."""

    root: Path
    redis: RedisServer
    postgres_url: str
    nodes: dict[str, ServerProcess] = field(default_factory=dict)

    def urls(self) -> list[str]:
        return [node.url for node in self.nodes.values()]

    def redis_client(self) -> aioredis.Redis:
        return aioredis.Redis.from_url(self.redis.url)

    async def served(self, name: str) -> list[str]:
        """The hearings node ``name`` says it serves (``GET /api/node``)."""
        url = self.nodes[name].url
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{url}/api/node", headers={"X-API-Key": ADMIN_KEY}) as resp,
        ):
            resp.raise_for_status()
            return list((await resp.json())["hearings"])


@contextlib.asynccontextmanager
async def running_cluster(
    *, lease_seconds: float, keep_logs: Path | None = None, **settings: str
) -> AsyncIterator[Cluster]:
    """Redis, PostgreSQL and nodes ``a`` and ``b`` (started in that order: ``a`` writes the
    join-link key both use), with ``hearing_lease_seconds`` and ``settings`` on top of
    testbed's defaults. Everything is stopped, and the temp dir removed (the node logs are
    copied to ``keep_logs`` first), when the block ends."""
    redis_binary, pg_bindir = find_redis_server(), find_bindir()
    if redis_binary is None or pg_bindir is None:
        raise SystemExit("needs the Debian packages redis-server and postgresql")
    root = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    redis = RedisServer(redis_binary, root / "redis")
    postgres: PostgresServer | None = None
    cluster: Cluster | None = None
    try:
        redis.start()
        postgres = PostgresServer.start(pg_bindir)
        database = postgres.create_database()
        cluster = Cluster(root, redis, postgres.url(database))
        for name in ("a", "b"):
            cluster.nodes[name] = await start_server_process(
                root / name,
                root / f"node-{name}.log",
                database_url=cluster.postgres_url,
                redis_url=redis.url,
                node_id=name,
                signing_key_path=str(root / "jwt_signing.key"),
                hearing_lease_seconds=str(lease_seconds),
                **settings,
            )
        yield cluster
    finally:
        if cluster is not None:
            for node in cluster.nodes.values():
                await node.kill()
        if postgres is not None:
            postgres.stop()
        redis.stop()
        _clean_up(root, keep_logs)


def _clean_up(root: Path, keep_logs: Path | None) -> None:
    if keep_logs is not None:
        keep_logs.mkdir(parents=True, exist_ok=True)
        for log in root.glob("node-*.log"):
            shutil.copy(log, keep_logs / log.name)
    shutil.rmtree(root, ignore_errors=True)


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    return 0


async def redis_stats(client: aioredis.Redis) -> dict[str, Any]:
    """``INFO stats``' two counters of the load on Redis."""
    info = await client.info("stats")
    return {
        "instantaneous_ops_per_sec": int(info["instantaneous_ops_per_sec"]),
        "total_commands_processed": int(info["total_commands_processed"]),
    }


async def owner_of(client: aioredis.Redis, hearing_id: str) -> str | None:
    raw = await client.get(OWNER_KEY.format(hearing_id))
    return None if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)


async def gather_bounded(limit: int, *coros: Any) -> list[Any]:
    """``asyncio.gather`` with at most ``limit`` running at once."""
    gate = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with gate:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))
