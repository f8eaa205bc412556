"""Two in-process server nodes on one PostgreSQL store and one Redis, and their clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.config import Settings
from signaling.client import HearingClient
from support.cluster import NODE_LEASE_S, in_process_nodes


@pytest.fixture
async def nodes(
    redis_url: str, postgres_url: str, aiohttp_server: Any, settings: Settings, tmp_path: Path
) -> dict[str, TestServer]:
    # (the servers are set up after, so closed before, their database and Redis)
    return await in_process_nodes(
        aiohttp_server,
        settings,
        redis_url=redis_url,
        postgres_url=postgres_url,
        shared=tmp_path,
        hearing_lease_seconds=NODE_LEASE_S,
    )


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[TestServer, str], HearingClient]]:
    made: list[HearingClient] = []

    def make(node: TestServer, token: str) -> HearingClient:
        c = HearingClient(f"http://127.0.0.1:{node.port}", token)
        made.append(c)
        return c

    yield make
    for c in made:
        await c.close()
