"""Tracks the server publishes itself from pre-encoded frames (the courtroom composite).

A server source is a ``TrackForwarder`` fed by ``push`` instead of RTP: subscribers get
its frames through the same direct senders as any participant's (packetized by
aiortc's own VP8/H.264 packetizers, Opus as one packet per payload), and its taps work
like a participant track's. Keyframe requests (subscriber PLI/FIR, a new subscriber, a
decoder starting) go to the source's owner instead of upstream.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable

from .codecs import TrackCodec
from .encoded import Packetizer
from .errors import MediaError
from .events import MediaKind
from .forwarder import TrackForwarder
from .frames import ForwardedFrame
from .stats import MediaCounters
from .taps import EncodedFrame
from .taps_impl import DecoderRegistry
from .tasks import TaskOwner

logger = logging.getLogger(__name__)


async def _no_pli(_ssrc: int) -> None:
    """A server source has no upstream to ask."""


class SourceForwarder(TrackForwarder):
    """A forwarder whose frames are pushed and whose keyframe requests go to a callback."""

    def __init__(
        self,
        *,
        pid: str,
        track_id: str,
        codec: TrackCodec,
        counters: MediaCounters,
        tasks: TaskOwner,
        decoders: DecoderRegistry,
        on_keyframe_request: Callable[[], None],
    ) -> None:
        self._on_keyframe_request = on_keyframe_request
        super().__init__(
            publisher_pid=pid,
            track_id=track_id,
            codec=codec,
            counters=counters,
            tasks=tasks,
            send_pli=_no_pli,
            keyframe_throttle_s=0.0,
            gap_timeout_s=0.5,
            decoders=decoders,
        )

    def request_keyframe(self, *, new_subscriber: bool = False) -> None:
        if self.kind == "video" and not self._closed:
            self._on_keyframe_request()

    def push(self, encoded: EncodedFrame, packetized: ForwardedFrame) -> None:
        if self._closed:
            return
        if self.enabled:
            self._fan_out(packetized)
        self.taps.on_encoded(encoded)


class LocalServerSource:
    """``taps.ServerSource`` as the router implements it (see ``add_server_source``).

    ``keyframe_requested`` is set whenever a subscriber (or a decoded tap) needs a
    keyframe and cleared by the next keyframe pushed; ``on_keyframe_request``, if given,
    is called (on the event loop) for each request as well. ``keyframe_requests`` counts
    them.
    """

    def __init__(
        self,
        *,
        pid: str,
        track_id: str,
        codec: TrackCodec,
        counters: MediaCounters,
        tasks: TaskOwner,
        decoders: DecoderRegistry,
        on_close: Callable[[LocalServerSource], Awaitable[None]],
        on_keyframe_request: Callable[[], None] | None = None,
    ) -> None:
        self.pid = pid
        self.kind: MediaKind = codec.kind
        self.codec = codec.mime_type
        self.clock_rate = codec.capability.clockRate
        self._track_id = track_id
        self._on_close = on_close
        self._callback = on_keyframe_request
        self.keyframe_requested = asyncio.Event()
        self.keyframe_requests = 0
        self.pushed_frames = 0
        self._packetizer = Packetizer(codec.name, self.clock_rate)
        self.forwarder = SourceForwarder(
            pid=pid,
            track_id=track_id,
            codec=codec,
            counters=counters,
            tasks=tasks,
            decoders=decoders,
            on_keyframe_request=self._keyframe_wanted,
        )
        self._closed = False

    @property
    def track_id(self) -> str:
        return self._track_id

    @property
    def closed(self) -> bool:
        return self._closed

    def push(self, frame: EncodedFrame) -> None:
        """Forward one encoded frame (``frame.payload``: a VP8 frame, an H.264 access unit
        in Annex-B form, or one Opus packet; ``rtp_timestamp`` monotonic in
        ``frame.clock_rate`` units). Ignored after ``close``. Raises ``MediaError``
        (``invalid_argument``) for a frame of another kind or codec."""
        if self._closed:
            return
        if frame.kind != self.kind or frame.codec.lower() != self.codec.lower():
            raise MediaError(
                "invalid_argument",
                f"{self._track_id} carries {self.codec}, not {frame.kind} {frame.codec}",
            )
        if frame.clock_rate <= 0:
            raise MediaError("invalid_argument", "clock_rate must be positive")
        timestamp = frame.rtp_timestamp
        if frame.clock_rate != self.clock_rate:
            timestamp = timestamp * self.clock_rate // frame.clock_rate
        if (
            frame.pid != self.pid
            or frame.track_id != self._track_id
            or frame.rtp_timestamp != timestamp
        ):
            frame = dataclasses.replace(
                frame,
                pid=self.pid,
                track_id=self._track_id,
                codec=self.codec,
                rtp_timestamp=timestamp,
                clock_rate=self.clock_rate,
            )
        packetized = self._packetizer.packetize(frame.payload, timestamp, frame.keyframe)
        if frame.keyframe:
            self.keyframe_requested.clear()
        self.pushed_frames += 1
        self.forwarder.push(frame, packetized)

    async def close(self) -> None:
        """Unpublish: the track leaves every subscriber (``TrackUnpublished``). Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._on_close(self)

    def unpublished(self) -> None:
        """The router dropped the source: end its subscribers' tracks and its taps."""
        self._closed = True
        self.forwarder.close()

    def _keyframe_wanted(self) -> None:
        self.keyframe_requests += 1
        self.keyframe_requested.set()
        if self._callback is not None:
            try:
                self._callback()
            except Exception:
                logger.exception("%s: keyframe request callback failed", self._track_id)
