"""A publisher track's decoder for taps: PyAV in a worker thread, fed encoded frames.

Decoding happens only here, never on the forwarding path, and only while a decoded tap
is open on the track (``TrackTaps`` starts and stops it). The event loop never waits for
the thread: frames go in through an unbounded queue that the loop keeps short (``submit``
refuses when ``max_pending`` are waiting) and come back with ``call_soon_threadsafe``.
PyAV releases the GIL while libvpx/libavcodec/libopus decode.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import queue
import threading
from collections.abc import Callable
from typing import cast

import av
from av.audio.codeccontext import AudioCodecContext
from av.frame import Frame
from av.video.codeccontext import VideoCodecContext

from lifeline.priority import lower_this_thread

from .events import MediaKind

logger = logging.getLogger(__name__)

#: PyAV decoder per forwarded codec. libvpx and FFmpeg's native vp8 cost the same here
#: (0.67 ms per 640x360 frame); libvpx is what aiortc itself decodes VP8 with.
_DECODERS = {"VP8": "libvpx", "H264": "h264", "OPUS": "libopus"}


def decoder_name(codec_name: str) -> str:
    try:
        return _DECODERS[codec_name.upper()]
    except KeyError:
        raise ValueError(f"no tap decoder for {codec_name}") from None


def _create_context(codec_name: str, kind: MediaKind) -> AudioCodecContext | VideoCodecContext:
    ctx = av.CodecContext.create(decoder_name(codec_name), "r")
    if kind == "audio":
        audio = cast(AudioCodecContext, ctx)
        # what aiortc's own Opus decoder produces: s16 interleaved stereo at 48 kHz
        audio.format = "s16"
        audio.layout = "stereo"
        audio.sample_rate = 48000
        return audio
    video = cast(VideoCodecContext, ctx)
    # one thread per decoder: no frame-threading delay, no thread pool per track
    video.thread_count = 1
    return video


class TapDecoder:
    """Decodes one track's encoded frames in its own thread.

    ``on_frames(frames)`` and ``on_error()`` run on the event loop that ``start`` ran on;
    neither is called after ``stop()``.
    """

    def __init__(
        self,
        *,
        name: str,
        codec_name: str,
        kind: MediaKind,
        clock_rate: int,
        max_pending: int,
        on_frames: Callable[[list[Frame]], None],
        on_error: Callable[[], None],
    ) -> None:
        decoder_name(codec_name)  # fail early for a codec without a decoder
        self.name = name
        self._codec_name = codec_name
        self._kind: MediaKind = kind
        self._time_base = fractions.Fraction(1, clock_rate)
        self._max_pending = max_pending
        self._on_frames = on_frames
        self._on_error = on_error
        self._queue: queue.SimpleQueue[tuple[bytes, int] | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._errors = 0

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopped

    def start(self) -> None:
        """Start the worker thread (from the event loop)."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def submit(self, payload: bytes, pts: int) -> bool:
        """Queue one encoded frame; False if ``max_pending`` frames are already waiting."""
        if self._stopped:
            return False
        if self._queue.qsize() >= self._max_pending:
            return False
        self._queue.put((payload, pts))
        return True

    def stop(self) -> None:
        """Ask the thread to finish; frames still queued are discarded. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._queue.put(None)

    def join(self, timeout: float) -> bool:
        """Wait (blocking) for the thread to end; True if it has."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # --- the worker thread --------------------------------------------------------------

    def _run(self) -> None:
        lower_this_thread()  # before the codec starts its threads
        try:
            ctx = _create_context(self._codec_name, self._kind)
        except Exception:
            logger.exception("%s: cannot create the decoder", self.name)
            return
        while True:
            item = self._queue.get()
            if item is None or self._stopped:
                return
            payload, pts = item
            packet = av.Packet(payload)
            packet.pts = pts
            packet.time_base = self._time_base
            try:
                frames: list[Frame] = list(ctx.decode(packet))
            except Exception as exc:
                self._errors += 1
                if self._errors <= 3 or self._errors % 100 == 0:
                    logger.warning(
                        "%s: decode failed (%d so far): %r", self.name, self._errors, exc
                    )
                self._call(self._on_error)
                continue
            for frame in frames:
                frame.time_base = self._time_base
            if frames:
                self._call(self._on_frames, frames)

    def _call(self, func: Callable[..., None], *args: object) -> None:
        loop = self._loop
        if self._stopped or loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._guarded, func, *args)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self._stopped = True

    def _guarded(self, func: Callable[..., None], *args: object) -> None:
        if not self._stopped:
            func(*args)
