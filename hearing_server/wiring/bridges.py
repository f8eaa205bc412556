"""Adapters between layers that must not import each other.

Media never imports signaling or the service layer: these bridges turn the router's events into
service events (which signaling delivers) and apply the domain's media plan (who receives whom,
who is muted) to the router.
"""

from __future__ import annotations

import logging
from typing import Any

from hearing_server.media.events import (
    MediaEvent,
    PeerStateChanged,
    SubscriberOffer,
    TrackPublished,
    TrackUnpublished,
)
from hearing_server.media.router import MediaRouter
from hearing_server.service.events import (
    EventBus,
    ServiceEvent,
    SubscriberOfferMade,
    TrackChanged,
)
from hearing_server.service.live import LiveHearings, MediaPlan

log = logging.getLogger(__name__)


class MediaToService:
    """Publishes the router's events that participants must learn about as service events."""

    def __init__(self, live: LiveHearings, events: EventBus[ServiceEvent]) -> None:
        self._live = live
        self._events = events

    async def __call__(self, event: MediaEvent) -> None:
        if isinstance(event, SubscriberOffer):
            offer = {
                "type": "offer",
                "sdp": event.sdp,
                "revision": event.revision,
                "restart": event.restart,
            }
            await self._events.publish(SubscriberOfferMade(event.pid, offer))
        elif isinstance(event, TrackPublished | TrackUnpublished):
            hearing_id = self._live.hearing_of(event.pid)
            if hearing_id is None:
                return
            data: dict[str, Any] = {
                "participant_id": event.pid,
                "kind": event.kind,
                "track_id": event.track_id,
            }
            if isinstance(event, TrackPublished):
                data["codec"] = event.codec
            published = isinstance(event, TrackPublished)
            await self._events.publish(TrackChanged(hearing_id, published, data))
        elif isinstance(event, PeerStateChanged):
            log.info("participant %s %s connection: %s", event.pid, event.which_pc, event.state)


class PlanToMedia:
    """Applies the domain's media plan to the router."""

    def __init__(self, router: MediaRouter) -> None:
        self._router = router

    async def __call__(self, plan: MediaPlan) -> None:
        for subscriber, publishers in plan.routes.items():
            self._router.set_routes(subscriber, publishers)
        for publisher in plan.routes:
            self._router.set_forwarding(publisher, "audio", publisher not in plan.audio_muted)
