"""create_app(): the one composition root. Nothing imports this module but the CLI and tests."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from hearing_server import keys
from hearing_server.api.errors import error_middleware
from hearing_server.api.routes import setup_routes
from hearing_server.auth.keys import load_or_create_secret
from hearing_server.auth.tokens import TokenService
from hearing_server.config import Settings
from hearing_server.service.events import EventBus
from hearing_server.service.hearings import HearingService
from hearing_server.store.sqlite import SQLiteStore

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    """Build the application: every resource it owns is opened and closed by cleanup_ctx."""
    app = web.Application(middlewares=[error_middleware], client_max_size=settings.max_body_bytes)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(settings.effective_database_path)
    signing_key = load_or_create_secret(settings.effective_signing_key_path)
    admin_key = settings.admin_api_key or load_or_create_secret(settings.admin_api_key_path)
    tokens = TokenService(signing_key, store.is_token_revoked)
    events = EventBus()
    hearings = HearingService(
        store,
        tokens,
        events,
        public_url=settings.effective_public_url,
        token_ttl=timedelta(hours=settings.token_ttl_hours),
    )

    app[keys.SETTINGS] = settings
    app[keys.STORE] = store
    app[keys.TOKENS] = tokens
    app[keys.EVENTS] = events
    app[keys.HEARINGS] = hearings
    app[keys.ADMIN_API_KEY] = admin_key

    async def store_ctx(_: web.Application) -> AsyncIterator[None]:
        await store.open()
        yield
        await store.close()

    app.cleanup_ctx.append(store_ctx)
    setup_routes(app)
    return app
