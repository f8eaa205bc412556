"""Abuse-limit tests: a real app on 127.0.0.1 with small limits, so a few requests reach them.

Two client addresses on one loopback: 127.0.0.1 is listed as a trusted proxy and each
request names its client in ``X-Forwarded-For`` (the tests of the proxy rule itself set
``trusted_proxies`` back to empty)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hearing_server.app import create_app
from hearing_server.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(
        settings,
        login_requests_per_minute=6,
        login_requests_per_minute_per_token=4,
        max_connections_per_address=3,
        trusted_proxies=["127.0.0.1"],
    )


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))
