"""Scheduling through a real app on a real store (each test on the SQLite file and on a
PostgreSQL database), with the SMS gateway and the SMTP server electronic service sends to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hearing_server.app import create_app
from hearing_server.config import Settings
from support.serving import Mailbox, SmsGateway, serving_settings, smtp_server, start_gateway
from support.stores import StoreBackend

COURTROOMS = ["第一法庭", "第二法庭", "调解室"]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    yield from smtp_server()


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[SmsGateway, str]]:
    gw = SmsGateway()
    runner, url = await start_gateway(gw)
    yield gw, url
    await runner.cleanup()


@pytest.fixture
def settings(
    settings: Settings,
    store_backend: StoreBackend,
    mailbox: tuple[Mailbox, int],
    gateway: tuple[SmsGateway, str],
) -> Settings:
    s = serving_settings(settings, gateway_url=gateway[1], smtp_port=mailbox[1])
    return replace(s, courtrooms=list(COURTROOMS), **store_backend.settings_overrides())


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))
