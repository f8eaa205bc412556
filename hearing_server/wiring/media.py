"""The SFU: the media router, its event hub, and the bridges to the services."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hearing_server import keys
from hearing_server.media.events import MediaEvent
from hearing_server.media.router import MediaRouter
from hearing_server.media.settings import MediaSettings
from hearing_server.service.events import EventBus

from .bridges import MediaToService, PlanToMedia


def install_media(app: web.Application) -> None:
    """The router; its events become service events, the domain's media plan drives it."""
    settings = app[keys.SETTINGS]
    media_events: EventBus[MediaEvent] = EventBus()
    media_events.subscribe(MediaToService(app[keys.LIVE], app[keys.EVENTS]))
    router = MediaRouter(
        MediaSettings(
            announced_host_addresses=list(settings.media_announced_addresses),
            port_range=settings.media_port_range,
            ice_servers=[s.to_json() for s in settings.ice_servers],
        ),
        media_events,
    )
    app[keys.LIVE].on_media_plan(PlanToMedia(router))
    app[keys.MEDIA] = router
    app[keys.MEDIA_EVENTS] = media_events

    async def peers(_: web.Application) -> AsyncIterator[None]:
        yield
        await router.close()

    app.cleanup_ctx.append(peers)
