"""API tests run against a real app on a real store: each test once on the SQLite file and
once on a PostgreSQL database (``store_backend``, tests/conftest.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hearing_server.app import create_app
from hearing_server.config import Settings
from support.stores import StoreBackend


@pytest.fixture
def settings(settings: Settings, store_backend: StoreBackend) -> Settings:
    """The shared test settings, on this run's store backend."""
    return replace(settings, **store_backend.settings_overrides())


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))
