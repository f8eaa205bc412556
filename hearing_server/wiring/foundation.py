"""The foundation every feature builds on: the store, tokens, the service bus and the services.

Installed first, closed last: every other feature's close may still write to the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from hearing_server import keys
from hearing_server.auth.keys import load_or_create_secret
from hearing_server.auth.tokens import TokenService
from hearing_server.config import Settings
from hearing_server.service.events import EventBus, ServiceEvent
from hearing_server.service.hearings import HearingService
from hearing_server.service.identity_gate import IdentityGate
from hearing_server.service.live import LiveHearings
from hearing_server.service.notices import NoticeService
from hearing_server.service.private_rooms import PrivateRooms
from hearing_server.service.transcripts import TranscriptService
from hearing_server.store.base import Store
from hearing_server.store.postgres import PostgresStore
from hearing_server.store.sqlite import SQLiteStore


def build_store(settings: Settings) -> Store:
    """PostgreSQL when ``database_url`` is set, else the embedded SQLite file (the default).

    Not opened here: the app's start opens it (and a PostgreSQL store retries for
    ``database_connect_timeout_seconds`` before giving up with ``StoreUnavailable``).
    """
    if settings.database_url:
        return PostgresStore(
            settings.database_url, connect_timeout=settings.database_connect_timeout_seconds
        )
    return SQLiteStore(settings.effective_database_path)


def install_foundation(app: web.Application) -> None:
    """Store, tokens, the service bus, hearings, presence (with the identity gate), caucus
    rooms and the transcript record."""
    settings = app[keys.SETTINGS]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = build_store(settings)
    signing_key = load_or_create_secret(settings.effective_signing_key_path)
    tokens = TokenService(signing_key, store.is_token_revoked)
    events: EventBus[ServiceEvent] = EventBus()
    policy = settings.identity_policy
    hearings = HearingService(
        store,
        tokens,
        events,
        public_url=settings.effective_public_url,
        token_ttl=timedelta(hours=settings.token_ttl_hours),
        identity_policy=policy,
    )
    # The gate belongs to the foundation: joining asks it, whatever else is installed.
    gate = IdentityGate(store, policy)
    app[keys.STORE] = store
    app[keys.TOKENS] = tokens
    app[keys.EVENTS] = events
    app[keys.HEARINGS] = hearings
    app[keys.IDENTITY_GATE] = gate
    app[keys.LIVE] = LiveHearings(
        hearings,
        disconnect_grace_s=settings.disconnect_grace_seconds,
        identity_cleared=gate.cleared,
    )
    rooms = PrivateRooms(app[keys.LIVE])
    events.subscribe(rooms.on_service_event)
    app[keys.PRIVATE_ROOMS] = rooms
    app[keys.NOTICES] = NoticeService(hearings)
    app[keys.TRANSCRIPTS] = TranscriptService(
        store, default_language=settings.transcription_language
    )
    app[keys.ADMIN_API_KEY] = settings.admin_api_key or load_or_create_secret(
        settings.admin_api_key_path
    )

    async def store_open(_: web.Application) -> AsyncIterator[None]:
        await store.open()
        yield
        await store.close()

    async def presence(_: web.Application) -> AsyncIterator[None]:
        yield
        await app[keys.LIVE].close()  # grace timers
        await rooms.close()  # caucus timers

    app.cleanup_ctx.append(store_open)
    app.cleanup_ctx.append(presence)
