"""Adapters between layers that must not import each other; create_app() instantiates them.

Media never imports signaling or the service layer: these bridges carry media events to
clients and the domain's media plan (who receives whom, who is muted) to the router.
"""

from __future__ import annotations

import logging

from hearing_server.media.events import (
    MediaEvent,
    PeerStateChanged,
    SubscriberOffer,
    TrackPublished,
    TrackUnpublished,
)
from hearing_server.media.router import MediaRouter
from hearing_server.service.live import LiveHearings, MediaPlan
from hearing_server.signaling.namespace import HearingNamespace

log = logging.getLogger(__name__)


class MediaToSignaling:
    """Delivers the router's events to the participants concerned."""

    def __init__(self, live: LiveHearings) -> None:
        self._live = live
        self._namespace: HearingNamespace | None = None

    def attach(self, namespace: HearingNamespace) -> None:
        self._namespace = namespace

    async def __call__(self, event: MediaEvent) -> None:
        ns = self._namespace
        if ns is None:
            return
        if isinstance(event, SubscriberOffer):
            await ns.send_to_participant(
                event.pid,
                "subscriber_offer",
                {
                    "type": "offer",
                    "sdp": event.sdp,
                    "revision": event.revision,
                    "restart": event.restart,
                },
            )
        elif isinstance(event, TrackPublished | TrackUnpublished):
            hearing_id = self._live.hearing_of(event.pid)
            if hearing_id is None:
                return
            name = "track_published" if isinstance(event, TrackPublished) else "track_unpublished"
            payload = {"participant_id": event.pid, "kind": event.kind, "track_id": event.track_id}
            if isinstance(event, TrackPublished):
                payload["codec"] = event.codec
            await ns.broadcast(hearing_id, name, payload)
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
