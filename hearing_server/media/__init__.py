"""SFU media layer: forwards participants' encoded RTP to each other, never transcoding.

Public API: ``MediaRouter`` (see router.py), ``MediaSettings``, ``MediaError`` and the
event dataclasses. Only ``aiortc_hooks`` touches aiortc/aioice internals.
"""

from .errors import MediaError
from .events import (
    EventCallback,
    MediaEvent,
    PeerStateChanged,
    SubscriberOffer,
    TrackPublished,
    TrackUnpublished,
)
from .router import MediaRouter
from .settings import MediaSettings

__all__ = [
    "EventCallback",
    "MediaError",
    "MediaEvent",
    "MediaRouter",
    "MediaSettings",
    "PeerStateChanged",
    "SubscriberOffer",
    "TrackPublished",
    "TrackUnpublished",
]
