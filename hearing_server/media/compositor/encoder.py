"""The encoder thread: libx264 (which releases the GIL while it works) encodes the
composed frames beside the composer, and the encoded frames go to the sinks. Also when to
force an IDR (``KeyframeGate``).

The composer hands frames over through a queue of two; when the encoder is two frames
behind, the older waiting frame is dropped (counted in ``stats.video_frames_dropped``)
so that the composer never waits.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from fractions import Fraction
from typing import Any

import av
from av.video.frame import PictureType

from lifeline.priority import lower_this_thread

from ..taps import EncodedFrame
from .clock import TickClock
from .config import VIDEO_CLOCK, VIDEO_CODEC, CompositorConfig, CompositorStats
from .layout import CANVAS_H, CANVAS_W
from .sinks import Sinks

log = logging.getLogger(__name__)


class KeyframeGate:
    """Keyframe requests, spaced at least ``min_keyframe_gap_s`` apart. Requested from the
    event loop, taken by the video thread, and the encoder thread reports every IDR it
    emits (a periodic one postpones a requested one too)."""

    def __init__(self, min_gap_s: float) -> None:
        self._min_gap_s = min_gap_s
        self._wanted = True  # the first frame must be an IDR
        self._last = -1e9  # time.monotonic()

    def request(self) -> None:
        self._wanted = True

    def due(self, now: float) -> bool:
        """Whether ``take(now)`` would give a keyframe."""
        return self._wanted and now - self._last >= self._min_gap_s

    def request_if_older(self, now: float, age_s: float) -> None:
        """Ask for one if the last was ``age_s`` ago or more (the encoder's own schedule
        counts frames, which are rare while the compositor idles)."""
        if now - self._last >= age_s:
            self._wanted = True

    def take(self, now: float) -> bool:
        """Whether the frame composed at ``now`` must be an IDR."""
        if self._wanted and now - self._last >= self._min_gap_s:
            self._wanted = False
            self._last = now
            return True
        return False

    def emitted(self, now: float) -> None:
        self._last = now


def open_video_encoder(cfg: CompositorConfig) -> av.VideoCodecContext:
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height = CANVAS_W, CANVAS_H
    enc.pix_fmt = "yuv420p"
    enc.framerate = Fraction(cfg.fps, 1)
    enc.time_base = Fraction(1, cfg.fps)
    enc.bit_rate = cfg.video_bitrate
    enc.gop_size = max(1, round(cfg.keyframe_interval_s * cfg.fps))
    enc.thread_count = cfg.x264_threads
    enc.options = {
        "preset": cfg.x264_preset,
        "tune": "zerolatency",
        "profile": "baseline",  # libx264 baseline = constrained baseline (42c0xx)
        "level": "3.1",
        "forced-idr": "1",  # request_keyframe gives an IDR, not just an I frame
        "maxrate": str(cfg.video_bitrate),
        "bufsize": str(cfg.video_bitrate // 2),
    }
    enc.open()
    return enc


class VideoEncoder:
    def __init__(
        self,
        config: CompositorConfig,
        *,
        stop: threading.Event,
        clock: TickClock,
        keyframes: KeyframeGate,
        sinks: Sinks,
        stats: CompositorStats,
    ) -> None:
        self.config = config
        self._stop = stop
        self._clock = clock
        self._keyframes = keyframes
        self._sinks = sinks
        self._stats = stats
        self._queue: queue.Queue[av.VideoFrame] = queue.Queue(maxsize=2)

    def submit(self, frame: av.VideoFrame) -> None:
        """Never wait for the encoder: if it is two frames behind, the older waiting frame
        is dropped (a forced keyframe moves to the newer one)."""
        try:
            self._queue.put_nowait(frame)
            return
        except queue.Full:
            pass
        try:
            old = self._queue.get_nowait()
        except queue.Empty:
            old = None
        if old is not None:  # counted like a skipped tick
            self._stats.video_frames_dropped += 1
            if old.pict_type == PictureType.I:
                frame.pict_type = PictureType.I
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(frame)

    def run(self) -> None:
        """The encoder thread."""
        lower_this_thread()  # before the encoder opens: its threads inherit it
        try:
            enc = open_video_encoder(self.config)
        except Exception:
            log.exception("cannot open the H.264 encoder")
            self._stats.errors += 1
            self._clock.ready(False)
            return
        self._clock.ready(True)
        last_error_log = 0.0
        st = self._stats
        while not self._stop.is_set():
            try:
                frame = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                started = time.perf_counter()
                for packet in enc.encode(frame):
                    self._emit(packet)
                st.encode_ms += 0.05 * ((time.perf_counter() - started) * 1000 - st.encode_ms)
            except Exception:
                st.errors += 1
                if time.monotonic() - last_error_log > 5:
                    last_error_log = time.monotonic()
                    log.exception("composite video encoding failed")

    def _emit(self, packet: av.Packet[Any]) -> None:
        payload = bytes(packet)
        if not payload or packet.pts is None:
            return
        keyframe = bool(packet.is_keyframe)
        st = self._stats
        st.video_frames_out += 1
        st.video_bytes_out += len(payload)
        if keyframe:
            st.keyframes_out += 1
            self._keyframes.emitted(time.monotonic())
        self._sinks.emit(
            EncodedFrame(
                pid=self.config.pid,
                track_id=f"{self.config.pid}-video",
                kind="video",
                codec=VIDEO_CODEC,
                payload=payload,
                rtp_timestamp=packet.pts * VIDEO_CLOCK // self.config.fps,
                clock_rate=VIDEO_CLOCK,
                keyframe=keyframe,
                arrival=time.monotonic(),
            )
        )
