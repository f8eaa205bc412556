"""A track recorder: one worker thread that remuxes one track's encoded frames into segments.

The event loop only hands frames over (``offer``, never blocking: a bounded queue, overflow
counted); the thread does all muxing, hashing and file I/O. One recorder writes either one
participant track (one input) or the composite (video input 0 leads, audio input 1 follows).

This module is the boundary between the two: the queue, the thread and the commands. What
the thread does with each frame is in ``segmenter.py`` (routing and cuts), ``writer.py``
(segment files and write failures), ``track_state.py`` (what it knows per input and
segment) and ``reporting.py`` (manifest entries and alerts).
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lifeline.priority import lower_this_thread

from .alerts import AlertKind, RecordingAlert
from .clock import HearingClock
from .frames import EncodedFrameLike
from .manifest import ManifestWriter
from .model import RecordingOptions, TrackIdentity, TrackStats
from .reporting import TrackReporter
from .segmenter import Segmenter

# RecordingOptions, TrackIdentity and TrackStats now live in .model; importing them from
# here, as code did before the split, keeps working.
__all__ = ["RecordingOptions", "TrackIdentity", "TrackRecorder", "TrackStats"]

log = logging.getLogger(__name__)


# -- messages from the event loop to the thread ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _FrameMsg:
    index: int
    frame: EncodedFrameLike
    tap_dropped: int
    overflow: int


@dataclass(frozen=True, slots=True)
class _CommandMsg:
    name: str  # pause | resume | stop
    reason: str
    done: concurrent.futures.Future[TrackStats | None]


class TrackRecorder:
    """Records one track (or the composite) of a recording into segments.

    Loop side: :meth:`start`, :meth:`offer` (never blocks), :meth:`command`. Everything
    else runs on the recorder's own thread. ``emit`` and ``request_keyframe`` are called
    from that thread and must be thread-safe (the session wraps them).
    """

    def __init__(
        self,
        identity: TrackIdentity,
        input_kinds: list[str],
        *,
        directory: Path,
        manifest: ManifestWriter,
        clock: HearingClock,
        options: RecordingOptions,
        emit: Callable[[RecordingAlert], None],
        request_keyframe: Callable[[], None] | None = None,
        paused: bool = False,
    ) -> None:
        self.identity = identity
        self._opts = options
        self._report = TrackReporter(identity, manifest, emit)
        self._queue: queue.Queue[_FrameMsg | _CommandMsg] = queue.Queue()
        self._overflow = [0] * len(input_kinds)
        self._overflow_alerted = -1e18
        self._thread = threading.Thread(
            target=self._run, name=f"recorder-{identity.key}", daemon=True
        )
        # thread-side
        self._segmenter = Segmenter(
            input_kinds,
            directory=directory,
            clock=clock,
            options=options,
            report=self._report,
            overflow=self._overflow,
            request_keyframe=request_keyframe,
            paused=paused,
        )
        self._stopped = False

    # -- loop side ------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def offer(self, index: int, frame: EncodedFrameLike, tap_dropped: int = 0) -> bool:
        """Queue one frame for the thread; False (and counted as lost) when the queue is
        full. Never blocks."""
        if self._queue.qsize() >= self._opts.queue_frames:
            self._overflow[index] += 1
            now = time.monotonic()
            if now - self._overflow_alerted >= self._opts.alert_repeat_seconds:
                self._overflow_alerted = now
                self._report.alert(
                    AlertKind.FRAMES_DROPPED,
                    f"Recording of {self._report.who()} is falling behind: frames are being "
                    f"dropped ({sum(self._overflow)} so far).",
                    lost_frames=sum(self._overflow),
                )
            return False
        self._queue.put_nowait(_FrameMsg(index, frame, tap_dropped, self._overflow[index]))
        return True

    def command(self, name: str, reason: str = "") -> concurrent.futures.Future[TrackStats | None]:
        """``pause`` / ``resume`` / ``stop``: done when the thread has carried it out (for
        ``stop``, with the track's stats once its last segment is finished)."""
        done: concurrent.futures.Future[TrackStats | None] = concurrent.futures.Future()
        if self._stopped or not self._thread.is_alive():
            done.set_result(None)
            return done
        self._queue.put_nowait(_CommandMsg(name, reason, done))
        return done

    @property
    def overflow(self) -> int:
        return sum(self._overflow)

    @property
    def queued(self) -> int:
        """Frames and commands waiting for the thread."""
        return self._queue.qsize()

    # -- thread ---------------------------------------------------------------------

    def _run(self) -> None:
        lower_this_thread()
        while True:
            msg = self._queue.get()
            if isinstance(msg, _FrameMsg):
                try:
                    self._segmenter.on_frame(msg.index, msg.frame, msg.tap_dropped, msg.overflow)
                except Exception as exc:  # a bug must not stop the record: fail, retry
                    log.exception("recorder %s: unexpected error", self.identity.key)
                    self._segmenter.fail(exc, msg.frame.arrival)
                continue
            try:
                result = self._on_command(msg)
            except Exception as exc:
                log.exception("recorder %s: %s failed", self.identity.key, msg.name)
                msg.done.set_exception(exc)
                result = None
            else:
                msg.done.set_result(result)
            if msg.name == "stop":
                self._stopped = True
                self._drain_after_stop()
                return

    def _drain_after_stop(self) -> None:
        while True:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(msg, _CommandMsg):
                msg.done.set_result(None)

    def _on_command(self, msg: _CommandMsg) -> TrackStats | None:
        now = time.monotonic()
        self._segmenter.stop_holding(now)
        if msg.name == "pause":
            self._segmenter.pause(now)
            return None
        if msg.name == "resume":
            self._segmenter.resume(now)
            return None
        if msg.name == "stop":
            return self._segmenter.stop(now, msg.reason)
        raise ValueError(f"unknown recorder command {msg.name!r}")
