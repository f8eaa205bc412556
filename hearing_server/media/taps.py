"""Taps: how recording, the compositor, transcription and identity checks get media.

Contract shared by the media layer (which implements it in ``MediaRouter``) and its
consumers (which ``create_app`` hands taps to). Forwarding never waits for a tap.

- Encoded taps yield every assembled frame of one publisher track exactly as forwarded
  (no decode): for recording by remux.
- Decoded taps yield ``av.VideoFrame`` / ``av.AudioFrame``. A publisher track is decoded at
  most once, by one decoder that runs only while at least one decoded tap is open on it
  (decode on demand); every decoded tap on the track shares that decoder's output.
- A server source (``MediaRouter.add_server_source``) is a track the server itself publishes
  from pre-encoded frames (the courtroom composite): subscribers routed to its participant id
  receive it like any participant's track, with no re-encoding.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from av import AudioFrame, VideoFrame

MediaKind = Literal["audio", "video"]
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One encoded frame of a publisher track, as the publisher sent it.

    ``payload``: a VP8 frame, an H.264 access unit in Annex-B form, or one Opus packet.
    ``rtp_timestamp`` counts in ``clock_rate`` units (90 kHz video, 48 kHz Opus) and is
    unwrapped (monotonic, no 32-bit wrap). ``arrival`` is ``time.monotonic()`` when the
    frame was complete at the server.
    """

    pid: str
    track_id: str
    kind: MediaKind
    codec: str  # MIME type: video/VP8, video/H264, audio/opus
    payload: bytes
    rtp_timestamp: int
    clock_rate: int
    keyframe: bool
    arrival: float


class Tap(Protocol[T_co]):
    """An async iterator of frames of one track; it ends when the track is unpublished.

    ``dropped`` counts frames this tap lost because its consumer fell behind (its queue
    was full); a consumer that must lose nothing checks it and reports it.
    """

    def __aiter__(self) -> Tap[T_co]: ...

    async def __anext__(self) -> T_co: ...

    @property
    def dropped(self) -> int: ...

    def close(self) -> None:
        """Stop receiving; idempotent. The track's decoder stops with its last tap."""


class ServerSource(Protocol):
    """A track the server publishes from pre-encoded frames (e.g. the composite view)."""

    @property
    def track_id(self) -> str: ...

    @property
    def keyframe_requested(self) -> asyncio.Event:
        """Set when a subscriber (or a decoded tap) needs a keyframe: encode the next frame
        as one. Pushing a keyframe clears it."""

    def push(self, frame: EncodedFrame) -> None:
        """Forward one encoded frame to every subscriber of this source."""

    async def close(self) -> None:
        """Unpublish the source; its track leaves every subscriber."""


class Composites(Protocol):
    """Where a hearing's composite comes from, when one runs (its media id, keyframes)."""

    def composite_of(self, hearing_id: str) -> str | None: ...

    def request_keyframe(self, hearing_id: str) -> None: ...


DecodedFrame = VideoFrame | AudioFrame

__all__ = ["DecodedFrame", "EncodedFrame", "MediaKind", "ServerSource", "Tap"]
