"""Several server nodes in one test: their settings (one PostgreSQL, one Redis, the shared
join-link key), and what a node's client receives."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from hearing_server.app import create_app
from hearing_server.config import Settings
from signaling.client import HearingClient
from support.media import TrackConsumer
from support.waiting import wait_until
from testbed.nodes import (
    ADMIN_KEY,
    ServerProcess,
    free_port,
    judge_transition,
    open_hearing_with,
    start_server_process,
    transition,
)

# The lease of the in-process nodes of tests/integration/cluster/conftest.py: short, so a
# lost lease shows within seconds.
NODE_LEASE_S = 2.0

# The server processes and staff API calls live in testbed (the benchmarks use them too).
__all__ = [
    "ADMIN_KEY",
    "NODE_LEASE_S",
    "ServerProcess",
    "free_port",
    "in_process_nodes",
    "judge_transition",
    "node_processes",
    "node_settings",
    "open_hearing_with",
    "receives_video",
    "start_server_process",
    "transition",
]


def node_settings(
    settings: Settings,
    name: str,
    port: int,
    *,
    redis_url: str,
    postgres_url: str,
    shared: Path,
    **extra: Any,
) -> Settings:
    """Node ``name`` listening on ``port``: its own data dir under ``shared``; the store,
    the Redis and the key that signs and checks join links shared with the other nodes."""
    return replace(
        settings,
        data_dir=shared / name,
        database_url=postgres_url,
        redis_url=redis_url,
        node_id=name,
        node_url=f"http://127.0.0.1:{port}",
        signing_key_path=shared / "jwt_signing.key",
        **extra,
    )


async def receives_video(client: HearingClient, publisher_id: str, what: str) -> None:
    """Wait until ``client`` has decoded 10 frames of ``publisher_id``'s camera."""
    video = await client.wait_for_track(publisher_id, "video", timeout=30)
    consumer = TrackConsumer(video)
    try:
        await wait_until(lambda: consumer.state.frames >= 10, 30, what)
    finally:
        await consumer.stop()


async def in_process_nodes(
    aiohttp_server: Any,
    settings: Settings,
    *,
    redis_url: str,
    postgres_url: str,
    shared: Path,
    own_public_url: bool = False,
    **extra: Any,
) -> dict[str, TestServer]:
    """Nodes ``a`` and ``b`` as in-process servers of the test (``node_settings`` each, with
    ``extra``); ``own_public_url``: each node's join links point at itself."""
    out: dict[str, TestServer] = {}
    for name in ("a", "b"):
        port = free_port()
        if own_public_url:
            extra["public_url"] = f"http://127.0.0.1:{port}"
        node = node_settings(
            settings,
            name,
            port,
            redis_url=redis_url,
            postgres_url=postgres_url,
            shared=shared,
            **extra,
        )
        out[name] = await aiohttp_server(create_app(node), host="127.0.0.1", port=port)
    return out


@contextlib.asynccontextmanager
async def node_processes(root: Path, **settings: str) -> AsyncIterator[dict[str, ServerProcess]]:
    """Nodes ``a`` and ``b`` as real server processes with ``settings``, their data dirs and
    logs under ``root``; killed (SIGKILL) at the end if still running."""
    nodes: dict[str, ServerProcess] = {}
    try:
        for name in ("a", "b"):  # one after the other: a creates the shared keys
            nodes[name] = await start_server_process(
                root / name, root / f"node-{name}.log", node_id=name, **settings
            )
        yield nodes
    finally:
        for node in nodes.values():
            await node.kill()
