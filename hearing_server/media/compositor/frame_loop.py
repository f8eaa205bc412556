"""The video thread: a frame every tick of the shared clock, always from the newest input
frames, handed to the encoder thread.

A short stall is caught up (frames go out back to back with their own timestamps); three
frame periods behind, the missed ticks are skipped (counted in
``stats.video_frames_dropped``). While nobody sends anything (``idle``), one frame a second
is composed and encoded: the view still shows the room and its clock, the recording and the
livestream go on, and an empty hearing costs little.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from av.video.frame import PictureType

from lifeline.priority import lower_this_thread

from .clock import TickClock
from .compose import Composer
from .config import CompositorStats
from .encoder import KeyframeGate, VideoEncoder

log = logging.getLogger(__name__)

_MAX_CATCH_UP = 3  # ticks the video thread may fall behind before it skips ticks


class FrameLoop:
    def __init__(
        self,
        fps: int,
        *,
        clock: TickClock,
        composer: Composer,
        keyframes: KeyframeGate,
        encoder: VideoEncoder,
        stats: CompositorStats,
        idle: Callable[[], bool] = lambda: False,
        keyframe_interval_s: float = 2.0,
    ) -> None:
        self._fps = fps
        self._idle = idle
        self._keyframe_interval_s = keyframe_interval_s
        self._clock = clock
        self._composer = composer
        self._keyframes = keyframes
        self._encoder = encoder
        self._stats = stats
        # Compose every n-th tick only (load shedding); set from the event loop, read here.
        self.divisor = 1

    def run(self) -> None:
        """The video thread."""
        lower_this_thread()
        if not self._clock.wait_started():
            return
        period = 1.0 / self._fps
        tick = 0
        last_error_log = 0.0
        st = self._stats
        while (late := self._clock.wait_for_tick(tick, period)) is not None:
            now, behind = late
            if behind >= _MAX_CATCH_UP:
                st.video_frames_dropped += behind
                tick += behind
            divisor = self.divisor
            idle = self._idle()
            st.idle = idle
            if idle:
                # keyframes stay on time (segments, late joiners), and one asked for is
                # not held back a second
                self._keyframes.request_if_older(now, self._keyframe_interval_s)
                if not self._keyframes.due(now):
                    divisor = max(divisor, self._fps)
            if divisor > 1 and tick % divisor:
                tick += 1  # shed: the frame rate falls, the timestamps stay on the clock
                continue
            try:
                started = time.perf_counter()
                frame = self._composer.compose(now)
                st.compose_ms += 0.05 * ((time.perf_counter() - started) * 1000 - st.compose_ms)
                if self._keyframes.take(now):
                    frame.pict_type = PictureType.I
                frame.pts = tick
                self._encoder.submit(frame)
            except Exception:
                st.errors += 1
                if time.monotonic() - last_error_log > 5:
                    last_error_log = time.monotonic()
                    log.exception("composite video frame failed")
            tick += 1
