"""Fixtures for media tests: loopback-only ICE for the test clients and a harness."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aioice.ice
import pytest
from media_clients import MediaHarness


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test clients gather on 127.0.0.1 only (aioice skips loopback by default).

    The server's own peers get the same through MediaSettings.announced_host_addresses.
    """
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.fixture
async def harness() -> AsyncIterator[MediaHarness]:
    h = MediaHarness()
    try:
        yield h
    finally:
        await h.close()
