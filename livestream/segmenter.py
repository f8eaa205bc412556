"""The segmenter thread: composite frames in, MPEG-TS segments of about ``target_s`` out.

Video is remuxed, never decoded: a segment is cut at the first keyframe at or after the
target length (a keyframe is asked for shortly before, so segments stay close to it). Audio
is transcoded Opus → AAC. Each finished segment is reported with the epoch it belongs to;
the epoch changes on every cut and resume, so a segment finished while a cut was on its way
to the thread is recognised as withheld by whoever publishes.

Commands and frames arrive through one queue in order; the thread owns every file it writes
until it reports it (or deletes it on a cut).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lifeline.priority import lower_this_thread

from .audio import SAMPLE_RATE, AacTranscoder
from .slate import SlateTemplate
from .tsfile import TsSegmentError, TsSegmentFile

log = logging.getLogger(__name__)

# A keyframe this far into a segment ends it: an encoder's periodic keyframe may come a
# little early (after a keyframe someone else asked for), and waiting for the next one would
# double the segment.
_MIN_FRACTION = 0.75


@dataclass(frozen=True, slots=True)
class Segment:
    """A finished segment file (not yet published)."""

    name: str
    path: Path
    duration_s: float
    start_s: float  # on the stream clock (seconds since the stream started)
    epoch: int
    slate: bool = False


@dataclass(frozen=True, slots=True)
class _Video:
    payload: bytes
    t_s: float
    keyframe: bool


@dataclass(frozen=True, slots=True)
class _Audio:
    payload: bytes
    t_s: float


@dataclass(frozen=True, slots=True)
class _Epoch:
    epoch: int
    live: bool  # False: a cut (drop the open segment); True: a resume


@dataclass(frozen=True, slots=True)
class _Slate:
    offset_s: float
    epoch: int


_STOP = object()


class Segmenter:
    """Runs on its own thread; every method but ``run`` is called from other threads.

    ``on_segment`` and ``on_error`` are called on the thread; the owner hops to its loop.
    """

    def __init__(
        self,
        directory: Path,
        *,
        width: int,
        height: int,
        target_s: float,
        slate: Callable[[], SlateTemplate],
        on_segment: Callable[[Segment], None],
        on_error: Callable[[BaseException], None],
        request_keyframe: Callable[[], None],
        max_queue: int = 2000,
    ) -> None:
        self._dir = directory
        self._width, self._height = width, height
        self._target_s = target_s
        self._slate_factory = slate
        self._slate: SlateTemplate | None = None
        self._on_segment = on_segment
        self._on_error = on_error
        self._request_keyframe = request_keyframe
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._audio = AacTranscoder()
        self._epoch = 0
        self._live = True
        self._seq = 0
        self._open: TsSegmentFile | None = None
        self._open_name = ""
        self._open_start = 0.0
        self._last_video = 0.0
        self._asked = False
        self.dropped = 0  # frames the full queue turned away
        self._thread = threading.Thread(target=self.run, name="livestream-segmenter", daemon=True)

    # -- from the event loop ---------------------------------------------------------------

    def start(self) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def video(self, payload: bytes, t_s: float, keyframe: bool) -> None:
        self._put(_Video(payload, t_s, keyframe))

    def audio(self, payload: bytes, t_s: float) -> None:
        self._put(_Audio(payload, t_s))

    def set_epoch(self, epoch: int, *, live: bool) -> None:
        """A cut (``live`` False: the open segment is deleted) or a resume."""
        self._command(_Epoch(epoch, live))

    def slate(self, offset_s: float, epoch: int) -> None:
        """Write one slate segment whose timestamps start at ``offset_s``."""
        self._command(_Slate(offset_s, epoch))

    def stop(self) -> None:
        """Finish: the open segment is dropped (it was never published)."""
        if self._thread.is_alive():
            self._command(_STOP)

    def join(self, timeout: float) -> bool:
        """Wait for the thread (True at once if it never started or has ended)."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _put(self, item: object) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def _command(self, item: object) -> None:
        # Commands must not be lost to a full queue: a cut that never arrives would publish.
        self._queue.put(item, timeout=5)

    # -- the thread -------------------------------------------------------------------------

    def run(self) -> None:
        lower_this_thread()
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    self._drop_open()
                    return
                self._handle(item)
        except BaseException as exc:  # reported, then the thread ends
            self._drop_open()
            log.exception("livestream segmenter failed")
            self._on_error(exc)

    def _handle(self, item: object) -> None:
        if isinstance(item, _Video):
            if self._live:
                self._on_video(item)
        elif isinstance(item, _Audio):
            if self._live and self._open is not None:
                for packet in self._audio.transcode(item.payload, item.t_s):
                    self._open.write_audio(packet)
        elif isinstance(item, _Epoch):
            self._epoch = item.epoch
            self._live = item.live
            self._drop_open()
            self._audio.reset()
            if item.live:
                self._request_keyframe()
        elif isinstance(item, _Slate):
            self._write_slate(item)

    def _on_video(self, v: _Video) -> None:
        seg = self._open
        if seg is not None:
            length = v.t_s - self._open_start
            if v.keyframe and length >= self._target_s * _MIN_FRACTION:
                self._finish(v.t_s)
                seg = None
            elif not self._asked and length >= self._target_s:
                self._asked = True
                self._request_keyframe()
            elif length >= 2 * self._target_s:
                self._request_keyframe()  # still none: ask again (the gate spaces them)
        if seg is None:
            if not v.keyframe:
                return  # a segment starts on a keyframe
            self._begin(v.t_s)
            seg = self._open
            assert seg is not None
        seg.write_video(v.payload, round(v.t_s * 90_000), v.keyframe)
        self._last_video = v.t_s

    def _next_name(self) -> tuple[str, Path]:
        self._seq += 1
        name = f"{self._epoch:03d}{self._seq:06d}.ts"
        return name, self._dir / name

    def _begin(self, t_s: float) -> None:
        name, path = self._next_name()
        try:
            self._open = TsSegmentFile(
                path,
                width=self._width,
                height=self._height,
                sample_rate=SAMPLE_RATE,
                layout=self._audio.layout,
            )
        except TsSegmentError:
            log.exception("cannot open a livestream segment")
            self._open = None
            return
        self._open_name = name
        self._open_start = t_s
        self._asked = False

    def _finish(self, end_s: float) -> None:
        seg = self._open
        self._open = None
        if seg is None:
            return
        try:
            seg.close()
        except TsSegmentError:
            log.exception("cannot finish a livestream segment")
            seg.abort()
            return
        self._on_segment(
            Segment(
                self._open_name, seg.path, end_s - self._open_start, self._open_start, self._epoch
            )
        )

    def _drop_open(self) -> None:
        seg = self._open
        self._open = None
        if seg is not None:
            seg.abort()

    def _write_slate(self, item: _Slate) -> None:
        if self._slate is None:
            self._slate = self._slate_factory()
        name, path = self._next_name()
        self._slate.write(path, item.offset_s)
        self._on_segment(
            Segment(name, path, self._slate.duration_s, item.offset_s, item.epoch, slate=True)
        )
