"""SFU media layer: forwards participants' encoded RTP to each other, never transcoding.

Public API: ``MediaRouter`` (see router.py), ``MediaSettings``, ``MediaError``, the
event dataclasses and the tap contract (taps.py: ``Tap``, ``EncodedFrame``,
``DecodedFrame``, ``ServerSource``). Only ``aiortc_hooks`` touches aiortc/aioice internals.
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
from .taps import DecodedFrame, EncodedFrame, ServerSource, Tap

__all__ = [
    "DecodedFrame",
    "EncodedFrame",
    "EventCallback",
    "MediaError",
    "MediaEvent",
    "MediaRouter",
    "MediaSettings",
    "PeerStateChanged",
    "ServerSource",
    "SubscriberOffer",
    "Tap",
    "TrackPublished",
    "TrackUnpublished",
]
