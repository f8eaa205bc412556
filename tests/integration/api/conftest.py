"""API tests run against a real app on a real SQLite store."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hearing_server.app import create_app
from hearing_server.config import Settings


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))
