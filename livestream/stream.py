"""One livestream: the segmenter thread, the delay, the slate, driven from the event loop.

The owner feeds it the composite's encoded frames (``video``/``audio``: H.264 access units
and Opus packets with their RTP timestamps), and calls ``cut``, ``resume`` and ``stop``.
Everything on disk lives under ``root``: ``withheld/`` (never served), ``public/`` (while
live) and, after the stop, ``kept/`` (the replay, never served from disk; see replay.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .publisher import DelayedPublisher
from .segmenter import Segmenter
from .slate import SlateTemplate, encode_slate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamOptions:
    delay_s: float = 30.0
    target_s: float = 2.0
    width: int = 1280
    height: int = 720
    font_path: Path | None = None  # a CJK font for the slate


class _Clock:
    """Places a track's frames on the stream clock: the first frame's arrival anchors its
    RTP timestamps (as the recording does), later frames follow their RTP timestamps."""

    def __init__(self, origin: float) -> None:
        self._origin = origin
        self._anchor: tuple[int, float] | None = None

    def reset(self) -> None:
        self._anchor = None

    def place(self, rtp: int, clock_rate: int, arrival: float) -> float:
        if self._anchor is None:
            self._anchor = (rtp, arrival - self._origin)
        first_rtp, first_t = self._anchor
        return first_t + (rtp - first_rtp) / clock_rate


class LiveStream:
    """States: live → cut ⇄ live → stopped. ``on_failure`` hears of a segmenter failure."""

    def __init__(
        self,
        root: Path,
        options: StreamOptions,
        *,
        request_keyframe: Callable[[], None],
        on_failure: Callable[[BaseException], None],
    ) -> None:
        self.root = root
        self.options = options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._request_keyframe = request_keyframe
        self._on_failure = on_failure
        origin = time.monotonic()
        self.started_at = origin
        self._video_clock = _Clock(origin)
        self._audio_clock = _Clock(origin)
        self.publisher = DelayedPublisher(
            root,
            delay_s=options.delay_s,
            target_s=options.target_s,
            request_slate=self._want_slate,
        )
        self._segmenter = Segmenter(
            self.publisher.withheld_dir,
            width=options.width,
            height=options.height,
            target_s=options.target_s,
            slate=self._make_slate,
            on_segment=self._from_thread(self.publisher.add),
            on_error=self._from_thread(self._failed),
            request_keyframe=self._from_thread_plain(request_keyframe),
        )
        self._ticker: asyncio.Task[None] | None = None
        self.failed: BaseException | None = None
        self.stopped = False

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.publisher.prepare()
        self._segmenter.start()
        self._request_keyframe()
        self._ticker = asyncio.create_task(self._tick(), name=f"livestream-tick {self.root.name}")

    async def _tick(self) -> None:
        while True:
            try:
                self.publisher.tick()
            except Exception as exc:
                # A disk error (or a bug) must not leave the judge believing the stream runs.
                log.exception("livestream %s: publishing failed", self.root)
                self._failed(exc)
                return
            await asyncio.sleep(0.1)

    @property
    def state(self) -> str:
        if self.stopped:
            return "stopped"
        return "cut" if self.publisher.cut else "live"

    def cut(self) -> int:
        """Withhold everything not yet published; the segment being written is deleted."""
        deleted = self.publisher.cut_now(at_s=time.monotonic() - self.started_at)
        self._segmenter.set_epoch(self.publisher.epoch, live=False)
        return deleted

    def resume(self) -> None:
        self.publisher.resume(at_s=time.monotonic() - self.started_at)
        self._video_clock.reset()
        self._audio_clock.reset()
        self._segmenter.set_epoch(self.publisher.epoch, live=True)

    async def stop(self, *, delete_all: bool = False) -> dict[str, Any]:
        """Stop: withheld segments are deleted, the published courtroom segments move out of
        ``public/`` into ``kept/`` with the replay playlist and ``public/`` is removed;
        ``delete_all`` deletes everything instead (the hearing is no longer public). Waits
        for the segmenter thread. A failure to clear ``public/`` is in ``retire_error``."""
        if self.stopped:
            return self.summary()
        self.stopped = True
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        self._segmenter.stop()
        finished = await asyncio.to_thread(self._segmenter.join, 10.0)
        if not finished:
            log.error("livestream segmenter of %s did not stop within 10 s", self.root)
        self.publisher.stop()
        # Anything left in withheld/ (a segment finishing during the stop) was never public.
        await asyncio.to_thread(shutil.rmtree, self.publisher.withheld_dir, True)
        if delete_all:
            await asyncio.to_thread(shutil.rmtree, self.root, True)
            return self.summary()
        try:
            await asyncio.to_thread(self.publisher.retire)
        except OSError as exc:
            # The files may still be where a web server serves them: the owner must know.
            log.exception("livestream %s: taking the files out of public/ failed", self.root)
            return {**self.summary(), "retire_error": repr(exc)}
        return self.summary()

    def summary(self) -> dict[str, Any]:
        entries = self.publisher.entries
        return {
            "published_segments": sum(1 for e in entries if not e.slate),
            "slate_segments": sum(1 for e in entries if e.slate),
            "withheld_deleted": self.publisher.deleted,
            "published_seconds": round(sum(e.duration_s for e in entries if not e.slate), 3),
            "frames_dropped": self._segmenter.dropped,
        }

    # -- media ---------------------------------------------------------------------------------

    def video(
        self, payload: bytes, rtp: int, clock_rate: int, arrival: float, keyframe: bool
    ) -> None:
        if self.stopped or self.publisher.cut:
            return  # nothing from a cut reaches the segmenter at all
        self._segmenter.video(payload, self._video_clock.place(rtp, clock_rate, arrival), keyframe)

    def audio(self, payload: bytes, rtp: int, clock_rate: int, arrival: float) -> None:
        if self.stopped or self.publisher.cut:
            return
        self._segmenter.audio(payload, self._audio_clock.place(rtp, clock_rate, arrival))

    def caption(self, start_mono: float, end_mono: float, text: str) -> bool:
        """A final caption of speech between two ``time.monotonic()`` instants; it is
        published with the segment it starts in (and withheld with it). Whether it was kept."""
        if self.stopped:
            return False
        return self.publisher.captions.add(
            start_mono - self.started_at, end_mono - self.started_at, text
        )

    # -- plumbing ------------------------------------------------------------------------------

    def _make_slate(self) -> SlateTemplate:
        if self.options.font_path is None:
            raise RuntimeError("no font for the livestream slate")
        return encode_slate(
            width=self.options.width,
            height=self.options.height,
            font_path=self.options.font_path,
            duration_s=self.options.target_s,
        )

    def _want_slate(self, offset_s: float, epoch: int) -> None:
        self._segmenter.slate(offset_s, epoch)

    def _failed(self, exc: BaseException) -> None:
        if self.failed is None and not self.stopped:
            self.failed = exc
            self._on_failure(exc)

    def _from_thread(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        def call(arg: Any) -> None:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._guarded, fn, arg)

        return call

    def _from_thread_plain(self, fn: Callable[[], None]) -> Callable[[], None]:
        def call() -> None:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(fn)

        return call

    def _guarded(self, fn: Callable[[Any], None], arg: Any) -> None:
        try:
            fn(arg)
        except Exception as exc:
            log.exception("livestream %s failed", self.root)
            self._failed(exc)
