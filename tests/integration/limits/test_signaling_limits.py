"""socket.io limits: connections per client address, and a message past the buffer size.

A client over a limit is refused or dropped with a code; the others keep being served."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from signaling.protocol import MAX_SDP, NAMESPACE, PROTOCOL_VERSION

ADMIN = {"X-API-Key": "test-admin-key-0123456789abcdef0123456789"}


class Opened:
    """The clients a test opened, closed at its end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.clients: list[socketio.AsyncClient] = []

    async def connect(self, token: str, address: str) -> tuple[socketio.AsyncClient, Any]:
        """Connect as ``address`` (named by the trusted proxy header): (client, refusal)."""
        client = socketio.AsyncClient(reconnection=False)
        refusal: list[Any] = []
        client.on("connect_error", lambda data=None: refusal.append(data), namespace=NAMESPACE)
        self.clients.append(client)
        with contextlib.suppress(socketio.exceptions.ConnectionError):
            await client.connect(
                self.url,
                namespaces=[NAMESPACE],
                auth={"token": token},
                headers={"X-Forwarded-For": address},
                transports=["websocket"],
                wait_timeout=10,
            )
        return client, (refusal[0] if refusal else None)


@pytest.fixture
async def opened(server: TestServer) -> AsyncIterator[Opened]:
    o = Opened(f"http://127.0.0.1:{server.port}")
    yield o
    for c in o.clients:
        with contextlib.suppress(Exception):
            await c.disconnect()


async def _tokens(server: TestServer, n: int) -> list[str]:
    base = f"http://127.0.0.1:{server.port}"
    async with ClientSession() as http:
        resp = await http.post(
            f"{base}/api/hearings",
            json={
                "case_number": "(2026)京0105民初1号",
                "court": "北京市朝阳区人民法院",
                "title": "连接上限",
                "scheduled_start": "2026-12-01T09:00:00+08:00",
                "scheduled_end": "2026-12-01T11:00:00+08:00",
            },
            headers=ADMIN,
        )
        hid = (await resp.json())["id"]
        tokens = []
        for i in range(n):
            resp = await http.post(
                f"{base}/api/hearings/{hid}/participants",
                json={"role": "party", "display_name": f"当事人{i}"},
                headers=ADMIN,
            )
            pid = (await resp.json())["id"]
            resp = await http.post(f"{base}/api/participants/{pid}/links", headers=ADMIN)
            tokens.append((await resp.json())["token"])
    return tokens


async def test_connections_per_address_are_capped(server: TestServer, opened: Opened) -> None:
    token, other = await _tokens(server, 2)
    # Refused connections (a bad token) are not counted.
    for _ in range(4):
        _, refusal = await opened.connect("not-a-token", "10.9.0.1")
        assert refusal and refusal["data"]["code"] != "too_many_connections"
    first = []
    for _ in range(3):
        client, refusal = await opened.connect(token, "10.9.0.1")
        assert refusal is None and client.connected
        first.append(client)
    client, refusal = await opened.connect(token, "10.9.0.1")
    assert not client.connected and refusal["data"]["code"] == "too_many_connections"
    # Another address is served; a closed connection frees its place.
    client, refusal = await opened.connect(other, "10.9.0.2")
    assert refusal is None and client.connected
    await first[0].disconnect()
    await asyncio.sleep(0.2)
    client, refusal = await opened.connect(token, "10.9.0.1")
    assert refusal is None and client.connected


async def test_an_oversize_message_drops_only_its_client(
    server: TestServer, opened: Opened
) -> None:
    big_token, token = await _tokens(server, 2)
    big, _ = await opened.connect(big_token, "10.9.1.1")
    small, _ = await opened.connect(token, "10.9.1.2")
    assert big.connected and small.connected
    dropped = asyncio.Event()
    big.on("disconnect", lambda *a: dropped.set(), namespace=NAMESPACE)
    await big.emit("publish_offer", {"sdp": "v=0\r\n" + "a" * (4 * MAX_SDP)}, namespace=NAMESPACE)
    await asyncio.wait_for(dropped.wait(), 10)
    # The server still serves the other client: it answers its join (the hearing is only
    # scheduled, so the answer is that clear refusal) and it stays connected.
    reply = await small.call("join", {"protocol": PROTOCOL_VERSION}, namespace=NAMESPACE)
    assert reply["code"] == "hearing_not_open" and small.connected
    again, refusal = await opened.connect(big_token, "10.9.1.1")
    assert refusal is None and again.connected


async def test_connects_refused_for_their_token_are_rate_limited(
    server: TestServer, opened: Opened
) -> None:
    (token,) = await _tokens(server, 1)
    # Six guessed tokens spend the address's six; then even a valid token waits.
    for i in range(6):
        _, refusal = await opened.connect(f"guess-{i}", "10.9.2.1")
        assert refusal["data"]["code"] == "invalid_token", refusal
    client, refusal = await opened.connect(token, "10.9.2.1")
    assert not client.connected and refusal["data"]["code"] == "rate_limited"
    assert refusal["data"]["retry_after"] >= 1
    # Another address connects with the same token.
    client, refusal = await opened.connect(token, "10.9.2.2")
    assert refusal is None and client.connected
