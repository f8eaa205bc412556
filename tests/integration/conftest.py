"""Integration fixtures: a real server on 127.0.0.1, real socket.io clients, loopback ICE."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aioice.ice
import pytest
from aiohttp.test_utils import TestServer

from hearing_server.app import create_app
from hearing_server.config import Settings
from signaling.client import HearingClient


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test clients gather host candidates on 127.0.0.1 only (aioice skips loopback)."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.fixture
async def server(aiohttp_server: Any, settings: Settings) -> TestServer:
    return await aiohttp_server(create_app(settings), host="127.0.0.1")


@pytest.fixture
async def make_client(
    server: TestServer, aiohttp_client: Any
) -> AsyncIterator[Callable[..., HearingClient]]:
    """Socket.io clients of ``server``, closed at the end. It asks for ``aiohttp_client`` so
    that its clients close first: an HTTP test client made from ``server`` closes the server
    at its own teardown, which then waited (about 5 s) for these still-connected clients."""
    clients: list[HearingClient] = []

    def make(token: str, **kw: Any) -> HearingClient:
        c = HearingClient(f"http://127.0.0.1:{server.port}", token, **kw)
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.close()
