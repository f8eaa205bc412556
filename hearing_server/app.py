"""create_app(): the one composition root. Nothing imports this module but the CLI and tests."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import socketio
from aiohttp import web

from hearing_server import keys
from hearing_server.api.errors import error_middleware
from hearing_server.api.pages import setup_pages
from hearing_server.api.routes import setup_routes
from hearing_server.auth.keys import load_or_create_secret
from hearing_server.auth.tokens import TokenService
from hearing_server.config import Settings
from hearing_server.media.errors import MediaError
from hearing_server.media.events import MediaEvent
from hearing_server.media.router import MediaRouter
from hearing_server.media.settings import MediaSettings
from hearing_server.service.events import EventBus, ServiceEvent
from hearing_server.service.hearings import HearingService
from hearing_server.service.live import LiveHearings
from hearing_server.service.transcripts import TranscriptService
from hearing_server.signaling.namespace import HearingNamespace
from hearing_server.signaling.origins import origin_check
from hearing_server.store.sqlite import SQLiteStore
from hearing_server.wiring.bridges import MediaToSignaling, PlanToMedia
from hearing_server.wiring.composite import CompositeCoordinator
from hearing_server.wiring.recording import RecordingCoordinator
from hearing_server.wiring.transcription import TranscriptionCoordinator
from recording import (
    RecordingCatalog,
    RecordingOptions,
    key_fingerprint,
    load_or_create_signing_key,
    public_key_pem,
)
from signaling.protocol import MAX_SDP
from transcription import TranscriptionSettings, create_engine

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    """Build the application: every resource it owns is opened and closed by cleanup_ctx."""
    app = web.Application(middlewares=[error_middleware], client_max_size=settings.max_body_bytes)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(settings.effective_database_path)
    signing_key = load_or_create_secret(settings.effective_signing_key_path)
    admin_key = settings.admin_api_key or load_or_create_secret(settings.admin_api_key_path)
    tokens = TokenService(signing_key, store.is_token_revoked)
    events: EventBus[ServiceEvent] = EventBus()
    hearings = HearingService(
        store,
        tokens,
        events,
        public_url=settings.effective_public_url,
        token_ttl=timedelta(hours=settings.token_ttl_hours),
    )
    live = LiveHearings(hearings, disconnect_grace_s=settings.disconnect_grace_seconds)

    ice_servers = [s.to_json() for s in settings.ice_servers]
    media_hub: EventBus[MediaEvent] = EventBus()
    media_events = MediaToSignaling(live)
    media_hub.subscribe(media_events)
    router = MediaRouter(
        MediaSettings(
            announced_host_addresses=list(settings.media_announced_addresses),
            ice_servers=ice_servers,
        ),
        media_hub,
    )
    live.on_media_plan(PlanToMedia(router))

    # Recording: the coordinator reports through signaling, which is created below; the
    # closures resolve `namespace` when they are first called, after create_app returns.
    recording_key = load_or_create_signing_key(settings.effective_recording_key_path)
    catalog = RecordingCatalog(settings.effective_recordings_dir)

    async def notify_staff(hearing_id: str, event: str, data: dict[str, Any]) -> None:
        await namespace.send_to_staff(hearing_id, event, data)

    async def notify_all(hearing_id: str, event: str, data: dict[str, Any]) -> None:
        await namespace.broadcast(hearing_id, event, data)

    composites = (
        CompositeCoordinator(
            media=router,
            hearings=hearings,
            live=live,
            clock_tz=ZoneInfo(settings.court_timezone) if settings.court_timezone else None,
        )
        if settings.composite_enabled
        else None
    )
    if composites is not None:
        events.subscribe(composites.on_service_event)
        media_hub.subscribe(composites.on_media_event)

    transcripts = TranscriptService(store)
    stt_settings = TranscriptionSettings(
        enabled=settings.transcription_enabled,
        engine=settings.transcription_engine,
        model_dir=settings.transcription_model_dir,
        language=settings.transcription_language,
    )
    engine = create_engine(stt_settings) if settings.transcription_enabled else None

    async def send_to_participant(pid: str, event: str, data: dict[str, Any]) -> None:
        await namespace.send_to_participant(pid, event, data)

    captions = (
        TranscriptionCoordinator(
            engine=engine,
            transcripts=transcripts,
            media=router,
            hearings=hearings,
            live=live,
            send_to_participant=send_to_participant,
            pipeline_settings=stt_settings.pipeline_settings(),
        )
        if engine is not None
        else None
    )
    if captions is not None:
        events.subscribe(captions.on_service_event)
        media_hub.subscribe(captions.on_media_event)

    recorder = RecordingCoordinator(
        root=settings.effective_recordings_dir,
        signing_key=recording_key,
        taps=router,
        hearings=hearings,
        live=live,
        notify_staff=notify_staff,
        notify_all=notify_all,
        auto_start=settings.recording_auto_start,
        composites=composites,
        options=RecordingOptions(segment_seconds=settings.recording_segment_seconds),
    )
    events.subscribe(recorder.on_service_event)
    media_hub.subscribe(recorder.on_media_event)

    client_manager = socketio.AsyncRedisManager(settings.redis_url) if settings.redis_url else None
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=client_manager,
        max_http_buffer_size=2 * MAX_SDP,
        cors_allowed_origins=origin_check(settings.effective_public_url),
    )
    namespace = HearingNamespace(
        tokens=tokens,
        hearings=hearings,
        live=live,
        media=router,
        media_errors=(MediaError,),
        ice_servers=ice_servers,
        recording=recorder,
    )
    sio.register_namespace(namespace)
    media_events.attach(namespace)
    events.subscribe(namespace.on_service_event)
    sio.attach(app)

    app[keys.SETTINGS] = settings
    app[keys.STORE] = store
    app[keys.TOKENS] = tokens
    app[keys.EVENTS] = events
    app[keys.HEARINGS] = hearings
    app[keys.LIVE] = live
    app[keys.MEDIA] = router
    app[keys.RECORDINGS] = recorder
    app[keys.RECORDING_CATALOG] = catalog
    app[keys.RECORDING_PUBLIC_KEY] = (
        public_key_pem(recording_key).decode("ascii"),
        key_fingerprint(recording_key),
    )
    app[keys.TRANSCRIPTS] = transcripts
    app[keys.ADMIN_API_KEY] = admin_key

    async def resources(_: web.Application) -> AsyncIterator[None]:
        await store.open()
        if engine is not None:
            await engine.prewarm()  # start the recognizer process and load its model now
        yield
        # Reverse order of dependence: presence timers, recordings (finish and sign while
        # their taps still run), media peers, then the database.
        await live.close()
        await recorder.close()
        if captions is not None:
            await captions.close()  # lets queued speech reach the transcript
        if composites is not None:
            await composites.close()
        await router.close()
        if engine is not None:
            await engine.aclose()
        await store.close()

    async def end_signaling(_: web.Application) -> None:
        # Open socket.io websockets would hold the shutdown until the clients' ping timeout
        # (45 s); clients reconnect to the next server on their own.
        if sio.eio.sockets:
            await sio.eio.disconnect()
        await sio.shutdown()

    app.on_shutdown.append(end_signaling)
    app.cleanup_ctx.append(resources)
    setup_routes(app)
    setup_pages(app, settings.web_client_dir)
    return app
