"""Events the router reports through its async callback, in the order they happen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

PcRole = Literal["publish", "subscribe"]
MediaKind = Literal["audio", "video"]


@dataclass(frozen=True)
class SubscriberOffer:
    """Send ``sdp`` (an offer) to participant ``pid``; answer with
    ``MediaRouter.subscriber_answer(pid, answer_sdp, revision)``.

    ``restart`` is true when the offer belongs to a new subscribe connection that replaces
    a previous one (the client must create a new peer connection for it).

    Each sending section's ``a=msid`` names what it carries: ``<publisher pid> <track id>``.
    A section whose track went away is offered ``inactive`` without msid, and a later offer
    may make it send again with another msid (a returning publisher, or another track of the
    same codec): label received tracks from each offer's msid, not from the first ``track``
    event of a transceiver. Sections are never removed from a connection.
    """

    pid: str
    sdp: str
    revision: int
    restart: bool = False


@dataclass(frozen=True)
class TrackPublished:
    """Participant ``pid`` published a track. ``codec`` is a MIME type, e.g. ``video/VP8``.

    Subscribers see the track with this id (SDP msid: stream id = ``pid``).
    """

    pid: str
    kind: MediaKind
    track_id: str
    codec: str


@dataclass(frozen=True)
class TrackUnpublished:
    """The track is gone (participant removed or its publish connection closed)."""

    pid: str
    kind: MediaKind
    track_id: str


@dataclass(frozen=True)
class PeerStateChanged:
    """aiortc connection state of one of the participant's peer connections:
    ``new``, ``connecting``, ``connected``, ``failed`` or ``closed``."""

    pid: str
    which_pc: PcRole
    state: str


MediaEvent = SubscriberOffer | TrackPublished | TrackUnpublished | PeerStateChanged
EventCallback = Callable[[MediaEvent], Awaitable[None]]
