"""Taps on one published track: encoded frames as forwarded, decoded frames on demand.

``TrackTaps`` belongs to one ``TrackForwarder``: the forwarder hands it every frame it
assembles (``on_forwarded``) or, for a server source, every frame pushed (``on_encoded``).
Nothing here blocks or waits: each tap has a bounded queue that drops (and counts) when
its consumer falls behind, and the decoder runs in its own thread (``decoder.py``).
See ``taps.py`` for the contract.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar, cast

from av.frame import Frame

from .codecs import TrackCodec
from .decoder import TapDecoder
from .encoded import TimestampUnwrapper, depayloader
from .frames import ForwardedFrame
from .stats import MediaCounters
from .taps import DecodedFrame, EncodedFrame

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: encoded frames a tap decoder may have waiting before new ones are dropped
DECODER_MAX_PENDING = {"video": 30, "audio": 250}


class FrameTap(Generic[T]):
    """An async iterator over one track's frames with a bounded queue (see ``taps.Tap``).

    The producer side (``offer``, ``end``) is called on the event loop and never waits.
    After ``end`` the consumer still gets what was queued, then ``StopAsyncIteration``;
    after ``close`` it gets nothing more.
    """

    def __init__(
        self,
        max_queued: int,
        on_close: Callable[[FrameTap[T]], None],
        on_caught_up: Callable[[], None] | None = None,
    ) -> None:
        if max_queued < 1:
            raise ValueError("max_queued must be at least 1")
        self._max_queued = max_queued
        self._on_close: Callable[[FrameTap[T]], None] | None = on_close
        self._on_caught_up = on_caught_up
        self._queue: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._dropped = 0
        #: encoded video only: after a drop, frames are skipped until a keyframe; the
        #: keyframe is asked for (``on_caught_up``) once the consumer has emptied the queue,
        #: so a stuck consumer does not make the publisher send keyframe after keyframe
        self.awaiting_keyframe = False
        self._caught_up_reported = False

    # --- consumer side ----------------------------------------------------------------

    def __aiter__(self) -> FrameTap[T]:
        return self

    async def __anext__(self) -> T:
        while not self._queue:
            if self._ended:
                raise StopAsyncIteration
            if self.awaiting_keyframe and not self._caught_up_reported:
                self._caught_up_reported = True
                if self._on_caught_up is not None:
                    self._on_caught_up()
            waiter = self._waiter
            if waiter is None or waiter.done():
                waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter
        return self._queue.popleft()

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def ended(self) -> bool:
        return self._ended

    def close(self) -> None:
        """Stop receiving; idempotent. Queued frames are discarded."""
        self._queue.clear()
        self._finish()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close(self)

    # --- producer side ------------------------------------------------------------------

    def offer(self, item: T) -> bool:
        """Queue ``item``; False (and counted in ``dropped``) when the queue is full."""
        if self._ended:
            return False
        if len(self._queue) >= self._max_queued:
            self._dropped += 1
            return False
        self._queue.append(item)
        self._wake()
        return True

    def count_dropped(self) -> None:
        self._dropped += 1

    def skip_to_keyframe(self) -> None:
        self.awaiting_keyframe = True
        self._caught_up_reported = False

    def end(self) -> None:
        """The track is gone: iteration stops once the queue is drained."""
        self._on_close = None
        self._finish()

    def _finish(self) -> None:
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class DecoderRegistry:
    """The router's tap decoders, for ``stats()`` and for joining their threads on close."""

    def __init__(self) -> None:
        self._decoders: set[TapDecoder] = set()

    def add(self, decoder: TapDecoder) -> None:
        self._decoders.add(decoder)

    @property
    def active(self) -> int:
        """Decoders started and not yet told to stop."""
        self._decoders = {d for d in self._decoders if d.running or _alive(d.thread)}
        return sum(1 for d in self._decoders if d.running)

    async def join(self, timeout: float) -> None:
        """Stop every decoder and wait (in a thread, up to ``timeout``) for them to end."""
        decoders = list(self._decoders)
        self._decoders.clear()
        for d in decoders:
            d.stop()
        deadline = time.monotonic() + timeout

        def join_all() -> None:
            for d in decoders:
                if not d.join(max(0.0, deadline - time.monotonic())):
                    logger.warning("tap decoder %s did not stop in time", d.name)

        if any(_alive(d.thread) for d in decoders):
            await asyncio.to_thread(join_all)


def _alive(thread: threading.Thread | None) -> bool:
    return thread is not None and thread.is_alive()


class TrackTaps:
    """Encoded and decoded taps of one published track, and its on-demand decoder."""

    def __init__(
        self,
        *,
        pid: str,
        track_id: str,
        codec: TrackCodec,
        counters: MediaCounters,
        decoders: DecoderRegistry,
        request_keyframe: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pid = pid
        self.track_id = track_id
        self.codec = codec
        self.kind = codec.kind
        self.clock_rate = codec.capability.clockRate
        self._counters = counters
        self._registry = decoders
        self._request_keyframe = request_keyframe
        self._clock = clock
        self._depayload = depayloader(codec.name)
        self._unwrapper = TimestampUnwrapper(self.clock_rate)
        self._encoded: list[FrameTap[EncodedFrame]] = []
        self._decoded: list[FrameTap[DecodedFrame]] = []
        self._decoder: TapDecoder | None = None
        self._decoder_needs_keyframe = False
        self._depayload_errors = 0
        self._closed = False

    @property
    def active(self) -> bool:
        return bool(self._encoded) or self._decoder is not None

    @property
    def decoder(self) -> TapDecoder | None:
        return self._decoder

    # --- opening and closing taps ---------------------------------------------------------

    def open_encoded(self, max_queued: int) -> FrameTap[EncodedFrame]:
        tap: FrameTap[EncodedFrame] = FrameTap(
            max_queued, self._encoded_closed, on_caught_up=self._request_keyframe
        )
        if self._closed:
            tap.end()
            return tap
        self._encoded.append(tap)
        if self.kind == "video":
            # a recording made from this tap can start at the next keyframe, not the
            # publisher's next scheduled one (which may never come)
            self._request_keyframe()
        return tap

    def open_decoded(self, max_queued: int) -> FrameTap[DecodedFrame]:
        tap: FrameTap[DecodedFrame] = FrameTap(max_queued, self._decoded_closed)
        if self._closed:
            tap.end()
            return tap
        self._decoded.append(tap)
        if self._decoder is None:
            self._start_decoder()
        return tap

    def _encoded_closed(self, tap: FrameTap[EncodedFrame]) -> None:
        if tap in self._encoded:
            self._encoded.remove(tap)

    def _decoded_closed(self, tap: FrameTap[DecodedFrame]) -> None:
        if tap in self._decoded:
            self._decoded.remove(tap)
        if not self._decoded:
            self._stop_decoder()

    def close(self) -> None:
        """The track is unpublished: every tap ends, the decoder stops. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop_decoder()
        for encoded in self._encoded:
            encoded.end()
        for decoded in self._decoded:
            decoded.end()
        self._encoded.clear()
        self._decoded.clear()

    # --- the decoder -------------------------------------------------------------------

    def _start_decoder(self) -> None:
        decoder = TapDecoder(
            name=f"tap-decoder:{self.track_id}",
            codec_name=self.codec.name,
            kind=self.kind,
            clock_rate=self.clock_rate,
            max_pending=DECODER_MAX_PENDING[self.kind],
            on_frames=self._on_decoded,
            on_error=self._on_decode_error,
        )
        self._decoder = decoder
        self._registry.add(decoder)
        decoder.start()
        if self.kind == "video":
            self._decoder_needs_keyframe = True
            self._request_keyframe()

    def _stop_decoder(self) -> None:
        decoder, self._decoder = self._decoder, None
        if decoder is not None:
            decoder.stop()

    def _on_decoded(self, frames: list[Frame]) -> None:
        self._counters.tap_decoded_frames += len(frames)
        for frame in frames:
            decoded = cast(DecodedFrame, frame)
            for tap in self._decoded:
                if not tap.offer(decoded):
                    self._counters.tap_dropped_frames += 1

    def _on_decode_error(self) -> None:
        if self.kind == "video" and self._decoder is not None:
            self._decoder_needs_keyframe = True
            self._request_keyframe()

    # --- frames in ----------------------------------------------------------------------

    def on_new_stream(self) -> None:
        """The publisher's stream restarted (new SSRC): timestamps are rebased."""
        self._unwrapper.restart()
        self.on_discontinuity()

    def on_discontinuity(self) -> None:
        """Frames were lost or skipped (loss, unmute): the decoder restarts on a keyframe."""
        if self.kind == "video" and self.active:
            self._decoder_needs_keyframe = True
            self._request_keyframe()

    def on_forwarded(self, frame: ForwardedFrame, enabled: bool) -> None:
        """A frame the forwarder assembled; ``enabled`` is false while the track is muted
        (taps get what subscribers get). Called for every frame, so the timestamp
        unwrapping never misses a wrap."""
        arrival = self._clock()
        rtp_timestamp = self._unwrapper.unwrap(frame.timestamp, arrival)
        if not enabled or not self.active:
            return
        try:
            payload = self._depayload(frame.payloads)
        except ValueError as exc:
            self._depayload_errors += 1
            if self._depayload_errors <= 3 or self._depayload_errors % 1000 == 0:
                logger.warning("%s: malformed payload (%r)", self.track_id, exc)
            self.on_discontinuity()
            return
        self._deliver(
            EncodedFrame(
                pid=self.pid,
                track_id=self.track_id,
                kind=self.kind,
                codec=self.codec.mime_type,
                payload=payload,
                rtp_timestamp=rtp_timestamp,
                clock_rate=self.clock_rate,
                keyframe=frame.keyframe,
                arrival=arrival,
            )
        )

    def on_encoded(self, frame: EncodedFrame) -> None:
        """A frame that is already whole (a server source's)."""
        if self.active:
            self._deliver(frame)

    def _deliver(self, frame: EncodedFrame) -> None:
        video = self.kind == "video"
        for tap in self._encoded:
            if tap.awaiting_keyframe:
                if not frame.keyframe:
                    tap.count_dropped()
                    self._counters.tap_dropped_frames += 1
                    continue
                tap.awaiting_keyframe = False
            if not tap.offer(frame):
                self._counters.tap_dropped_frames += 1
                if video:
                    # the frames after a gap only decode to garbage: resume on a keyframe
                    tap.skip_to_keyframe()
        decoder = self._decoder
        if decoder is None:
            return
        if self._decoder_needs_keyframe:
            if not frame.keyframe:
                return
            self._decoder_needs_keyframe = False
        if not decoder.submit(frame.payload, frame.rtp_timestamp):
            self._counters.tap_dropped_frames += 1
            if video:
                self._decoder_needs_keyframe = True
                self._request_keyframe()
