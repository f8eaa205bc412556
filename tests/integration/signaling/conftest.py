"""Signaling tests run a real server on 127.0.0.1 and connect real socket.io clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.app import create_app
from hearing_server.config import Settings
from signaling.client import HearingClient


@pytest.fixture
async def server(aiohttp_server: Any, settings: Settings) -> TestServer:
    return await aiohttp_server(create_app(settings), host="127.0.0.1")


@pytest.fixture
async def make_client(server: TestServer) -> AsyncIterator[Callable[..., HearingClient]]:
    clients: list[HearingClient] = []

    def make(token: str, **kw: Any) -> HearingClient:
        c = HearingClient(f"http://127.0.0.1:{server.port}", token, **kw)
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.close()
