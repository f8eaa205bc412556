"""create_app's installs: every resource is closed, whatever else fails around it (on both
store backends: the SQLite file and a PostgreSQL database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp import web

from hearing_server import keys
from hearing_server.app import create_app
from hearing_server.config import Settings
from support.stores import StoreBackend, store_is_open


@pytest.fixture
def settings(settings: Settings, store_backend: StoreBackend) -> Settings:
    return replace(settings, **store_backend.settings_overrides())


def _db_open(app: web.Application) -> bool:
    return store_is_open(app[keys.STORE])


async def test_one_failing_close_does_not_skip_the_others(settings: Settings) -> None:
    app = create_app(settings)

    async def breaks_on_close(_: web.Application) -> AsyncIterator[None]:
        yield
        raise RuntimeError("this resource fails to close")

    # Registered last, so it closes first: everything installed before it must still close.
    app.cleanup_ctx.append(breaks_on_close)
    runner = web.AppRunner(app)
    await runner.setup()
    assert _db_open(app)
    with pytest.raises(Exception, match="fails to close"):
        await runner.cleanup()
    assert not _db_open(app)


async def test_a_failed_start_still_closes_what_started_before_it(settings: Settings) -> None:
    app = create_app(settings)

    async def fails_to_start(_: web.Application) -> AsyncIterator[None]:
        raise RuntimeError("this resource fails to start")
        yield  # pragma: no cover

    app.cleanup_ctx.append(fails_to_start)
    runner = web.AppRunner(app)
    with pytest.raises(RuntimeError, match="fails to start"):
        await runner.setup()
    assert _db_open(app)  # the store opened before the failure ...
    await runner.cleanup()
    assert not _db_open(app)  # ... and closes with the rest
