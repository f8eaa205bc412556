"""The courtroom composite: one 1280x720 view of the hearing room and a mix of its audio,
encoded once (H.264 constrained baseline + Opus) for every consumer.

Inputs are decoded frames as async iterators (``MediaRouter.open_decoded_tap`` gives
them; tests give generators); outputs are ``EncodedFrame`` objects handed to sinks. The
compositor knows nothing of the router, signaling or recording: ``create_app`` wires it.

Threads:
- the event loop runs one small task per input that only stores the newest video frame
  (a reference swap) or appends an audio frame to a bounded deque: it never blocks, and
  a slow compositor never slows an input;
- a video thread ticks at ``fps`` on a fixed deadline clock: it scales each input once
  per new frame and tile size (swscale), copies planes into the canvas with numpy and
  blends the cached text overlays, always from the newest input frames. A short stall is
  caught up; three frame periods behind, it skips the missed ticks (counted in
  ``stats.video_frames_dropped``);
- an encoder thread runs libx264 (which releases the GIL) on the composed frames, beside
  the composer, through a queue of two frames; when the encoder is two frames behind the
  older frame is dropped (counted too), so the composer never waits;
- an audio thread ticks every 20 ms: resample, mix, limit, encode Opus;
- encoded frames go back to the event loop (``call_soon_threadsafe``) and to the sinks
  there, so sinks may call loop-bound code such as ``ServerSource.push``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from fractions import Fraction
from typing import Any, Literal

import av
import numpy as np
from av.video.frame import PictureType
from av.video.reformatter import Interpolation, VideoReformatter

from hearing_server.core.participant import PartySide, Role

from .compositor_audio import BLOCK, SAMPLE_RATE, AudioMixer, SpeakerTracker
from .compositor_draw import (
    BACKGROUND,
    CARD_BACKGROUND,
    SPEAKER_BORDER,
    TILE_BACKGROUND,
    Overlay,
    Planes,
    TextRenderer,
    blit,
    fill,
    frame_border,
    render_frozen_banner,
    render_header,
    render_label,
    render_name_card,
    rgb_to_yuv,
    solid_planes,
)
from .compositor_layout import (
    CANVAS_H,
    CANVAS_W,
    HEADER_H,
    Layout,
    Rect,
    Seat,
    TilePlacement,
    fit_rect,
    place,
    presiding_pid,
    role_label,
)
from .taps import EncodedFrame, MediaKind

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
VIDEO_CODEC = "video/H264"
AUDIO_CODEC = "audio/opus"
H264_PROFILE_LEVEL_ID = "42c01f"  # constrained baseline, level 3.1 (what libx264 emits)

TileKind = Literal["video", "name_card", "frozen"]
_MAX_CATCH_UP = 3  # ticks the video thread may fall behind before it skips ticks
EncodedSink = Callable[[EncodedFrame], None]
MixSink = Callable[[av.AudioFrame], None]


@dataclass(frozen=True, slots=True)
class CompositorConfig:
    """Settings of one composite. The canvas is always 1280x720."""

    pid: str = "composite"  # the pid in every EncodedFrame (the server source's id)
    fps: int = 25  # 25..30
    layout: Layout = Layout.JUDGE_FOCUS
    case_number: str = ""
    court: str = ""
    title: str = ""
    clock_tz: tzinfo | None = None  # None: the server's local time
    frozen_after_s: float = 2.0  # no new frame for this long: "video interrupted"
    video_bitrate: int = 2_500_000  # bits/s, with a VBV of half a second
    # superfast: ~10 ms of CPU per 720p frame here against 12-17 ms for veryfast, at the
    # same bitrate for 0.1 dB less PSNR (docs/performance.md)
    x264_preset: str = "superfast"
    # 1: no slice threads; the encoder thread runs beside the composer (0: libx264 decides)
    x264_threads: int = 1
    keyframe_interval_s: float = 2.0
    min_keyframe_gap_s: float = 0.25  # on-demand keyframes no closer than this
    audio_bitrate: int = 48_000
    font_path: str | None = None  # default: the first installed CJK font (wqy-zenhei)

    def __post_init__(self) -> None:
        if not 25 <= self.fps <= 30:
            raise ValueError("fps must be between 25 and 30")
        object.__setattr__(self, "layout", Layout(self.layout))
        if self.frozen_after_s <= 0 or self.keyframe_interval_s <= 0:
            raise ValueError("frozen_after_s and keyframe_interval_s must be positive")


@dataclass(slots=True)
class CompositorStats:
    video_frames_out: int = 0
    video_frames_dropped: int = 0  # output ticks skipped because composition fell behind
    video_bytes_out: int = 0
    keyframes_out: int = 0
    audio_packets_out: int = 0
    audio_blocks_dropped: int = 0
    audio_underruns: int = 0  # input blocks padded with silence
    audio_limited_blocks: int = 0  # mix blocks the limiter turned down
    errors: int = 0
    compose_ms: float = 0.0  # moving averages of the video thread's per-frame work
    encode_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class TileState:
    """What the last composed frame showed for one participant."""

    pid: str
    rect: Rect  # the tile
    video_rect: Rect | None  # where the video went inside it (None for a name card)
    kind: TileKind
    focus: bool
    speaker: bool


@dataclass(frozen=True, slots=True)
class _Latest:
    frame: av.VideoFrame
    received: float  # time.monotonic()
    seq: int


@dataclass(slots=True)
class _Scaled:
    key: tuple[int, int, int]  # (seq, tile w, tile h)
    planes: Planes
    offset: tuple[int, int]  # of the video inside the tile
    frame: av.VideoFrame  # keeps the planes' memory alive


@dataclass(slots=True)
class _Slot:
    """One participant. Written by the event loop (inputs, flags), read by the threads;
    every field the threads read is replaced whole, never mutated in place."""

    pid: str
    name: str
    role: Role
    side: PartySide | None
    label_override: str | None
    joined: int
    muted: bool = False
    latest: _Latest | None = None
    video_live: bool = False  # a video input is attached and has not ended
    audio_queue: deque[av.AudioFrame] = field(default_factory=lambda: deque(maxlen=100))
    has_audio: bool = False
    video_input: AsyncIterator[av.VideoFrame] | None = None
    audio_input: AsyncIterator[av.AudioFrame] | None = None
    video_task: asyncio.Task[None] | None = None
    audio_task: asyncio.Task[None] | None = None
    # video thread only
    scaled: _Scaled | None = None
    label: tuple[tuple[object, ...], Overlay] | None = None
    card: tuple[tuple[int, int, str], Planes] | None = None


def _planes_of(frame: av.VideoFrame) -> Planes:
    """numpy views (no copy) of a yuv420p frame's planes, without the line padding."""
    out = []
    for plane in frame.planes:
        arr = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        out.append(arr[: plane.height, : plane.width])
    return out[0], out[1], out[2]


class Compositor:
    """Composes the hearing room into one encoded view and one audio mix.

    Call the methods from the event loop thread. ``start()`` starts the threads; until
    then participants can be added but nothing is produced. The compositor owns the input
    iterators it is given: it closes them (``close()`` or ``aclose()``) when the
    participant is removed, the input is replaced, or the compositor closes.
    """

    def __init__(self, config: CompositorConfig | None = None) -> None:
        self.config = config or CompositorConfig()
        self._text = TextRenderer(self.config.font_path)
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}
        self._joined = 0
        self._layout = self.config.layout
        self._info = (self.config.court, self.config.case_number, self.config.title)
        self._sinks: list[tuple[EncodedSink, MediaKind | None]] = []
        self._mix_sinks: list[MixSink] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._keyframe_wanted = True
        self._speaker: str | None = None
        self._levels: dict[str, float] = {}
        self._tiles: tuple[TileState, ...] = ()
        self._last_frame: av.VideoFrame | None = None
        self.stats = CompositorStats()
        self._t0 = 0.0  # time.monotonic() of tick 0 / block 0, set when both encoders are open
        self._ready: threading.Barrier | None = None
        self._clock_started = threading.Event()
        self._encode_queue: queue.Queue[av.VideoFrame] = queue.Queue(maxsize=2)
        self._last_keyframe = -1e9  # time.monotonic()
        # video-thread state
        self._reformatter = VideoReformatter()
        self._background = solid_planes(CANVAS_W, CANVAS_H, BACKGROUND)
        self._header_key: tuple[str, ...] = ()
        self._banners: dict[tuple[int, int], Overlay] = {}
        self._tile_bg = rgb_to_yuv(TILE_BACKGROUND)
        self._card_bg = rgb_to_yuv(CARD_BACKGROUND)
        self._render_until = 0.0

    # --- participants (event loop) ---------------------------------------------------

    def add_participant(
        self,
        pid: str,
        name: str,
        role: Role | str,
        video: AsyncIterator[av.VideoFrame] | None = None,
        audio: AsyncIterator[av.AudioFrame] | None = None,
        *,
        side: PartySide | str | None = None,
        role_label: str | None = None,
    ) -> None:
        """Add ``pid`` to the view (or update it, replacing its inputs, if already in).

        ``role`` and ``side`` give the Chinese caption (审判长 for the earliest judge,
        原告/被告/... for parties); ``role_label`` overrides it. Without ``video`` (or
        until its first frame, or after it ends) the tile shows a name card; without
        ``audio`` the participant is not in the mix. A courtroom display is not a tile:
        it is ignored."""
        role = Role(role)
        if role is Role.COURTROOM_DISPLAY:
            return
        side_value = PartySide(side) if side is not None else None
        with self._lock:
            slot = self._slots.get(pid)
            if slot is None:
                self._joined += 1
                slot = _Slot(pid, name, role, side_value, role_label, self._joined)
                self._slots[pid] = slot
            else:
                slot.name, slot.role, slot.side = name, role, side_value
                slot.label_override = role_label
        self.set_video(pid, video)
        self.set_audio(pid, audio)

    def set_video(self, pid: str, video: AsyncIterator[av.VideoFrame] | None) -> None:
        """Replace ``pid``'s video input (None: name card); the old one is closed."""
        slot = self._slots[pid]
        self._stop_input(slot, "video")
        slot.video_input = video
        slot.video_live = video is not None
        slot.latest = None
        if video is not None and self._loop is not None:
            slot.video_task = self._loop.create_task(self._pump_video(slot, video))

    def set_audio(self, pid: str, audio: AsyncIterator[av.AudioFrame] | None) -> None:
        """Replace ``pid``'s audio input (None: not in the mix); the old one is closed."""
        slot = self._slots[pid]
        self._stop_input(slot, "audio")
        slot.audio_input = audio
        slot.has_audio = audio is not None
        slot.audio_queue.clear()
        if audio is not None and self._loop is not None:
            slot.audio_task = self._loop.create_task(self._pump_audio(slot, audio))

    def remove_participant(self, pid: str) -> None:
        """Take ``pid`` out of the view and the mix (no-op if absent)."""
        with self._lock:
            slot = self._slots.pop(pid, None)
        if slot is not None:
            self._stop_input(slot, "video")
            self._stop_input(slot, "audio")

    def set_muted(self, pid: str, muted: bool) -> None:
        """Leave ``pid`` out of the mix (and mark the tile 静音) while muted."""
        slot = self._slots.get(pid)
        if slot is not None:
            slot.muted = bool(muted)

    def set_layout(self, name: Layout | str) -> None:
        """judge_focus, grid or speaker_follow; takes effect with the next frame.
        Raises ``ValueError`` for another name."""
        self._layout = Layout(name)

    def set_hearing_info(
        self,
        *,
        court: str | None = None,
        case_number: str | None = None,
        title: str | None = None,
    ) -> None:
        """Change the header (court, case number, title); None keeps a value."""
        court0, case0, title0 = self._info
        self._info = (
            court0 if court is None else court,
            case0 if case_number is None else case_number,
            title0 if title is None else title,
        )

    def request_keyframe(self) -> None:
        """Make the next frame an IDR (at most one every ``min_keyframe_gap_s``)."""
        self._keyframe_wanted = True

    @property
    def layout(self) -> Layout:
        return self._layout

    @property
    def participants(self) -> list[str]:
        with self._lock:
            return list(self._slots)

    @property
    def speaker(self) -> str | None:
        """The current speaker (speaker_follow's focus; highlighted in other layouts)."""
        return self._speaker

    def audio_levels(self) -> dict[str, float]:
        """Smoothed input levels in dBFS, as of the last mixed block."""
        return dict(self._levels)

    def tile_states(self) -> list[TileState]:
        """The tiles of the last composed frame."""
        return list(self._tiles)

    def last_frame(self) -> av.VideoFrame | None:
        """The last composed frame (yuv420p 1280x720); do not modify it."""
        return self._last_frame

    # --- outputs ----------------------------------------------------------------------

    def add_sink(self, sink: EncodedSink, *, kind: MediaKind | None = None) -> Callable[[], None]:
        """Call ``sink(frame)`` on the event loop for every encoded frame (of ``kind``
        only, if given); returns a function that removes the sink. A new video sink gets
        a keyframe soon. A sink must not block; its exceptions are logged."""
        entry = (sink, kind)
        self._sinks = [*self._sinks, entry]
        if kind != "audio":
            self.request_keyframe()

        def remove() -> None:
            self._sinks = [e for e in self._sinks if e is not entry]

        return remove

    def add_mix_sink(self, sink: MixSink) -> Callable[[], None]:
        """Call ``sink(frame)`` on the event loop with every 20 ms block of the mix before
        encoding (s16 mono 48 kHz, pts in 48 kHz like the Opus timestamps), for a
        consumer that encodes audio its own way (e.g. AAC for the composite recording)."""
        self._mix_sinks = [*self._mix_sinks, sink]

        def remove() -> None:
            self._mix_sinks = [s for s in self._mix_sinks if s is not sink]

        return remove

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Start the input tasks and the compose, encode and audio threads (idempotent)."""
        if self._closed:
            raise RuntimeError("compositor is closed")
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            if slot.video_input is not None and slot.video_task is None:
                slot.video_task = self._loop.create_task(self._pump_video(slot, slot.video_input))
            if slot.audio_input is not None and slot.audio_task is None:
                slot.audio_task = self._loop.create_task(self._pump_audio(slot, slot.audio_input))
        self._refresh_header(self._clock_text())  # text rendering before the clock starts
        self._ready = threading.Barrier(2, action=self._start_clock)
        self._threads = [
            threading.Thread(target=self._video_main, name="compositor-video", daemon=True),
            threading.Thread(target=self._encode_main, name="compositor-encode", daemon=True),
            threading.Thread(target=self._audio_main, name="compositor-audio", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    async def close(self) -> None:
        """Stop the threads and close every input (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        for thread in self._threads:
            await asyncio.to_thread(thread.join)
        with self._lock:
            slots = list(self._slots.values())
            self._slots.clear()
        tasks = []
        for slot in slots:
            for kind in ("video", "audio"):
                task = self._stop_input(slot, kind)
                if task is not None:
                    tasks.append(task)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> Compositor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- inputs (event loop) ------------------------------------------------------------

    def _stop_input(
        self, slot: _Slot, kind: Literal["video", "audio"]
    ) -> asyncio.Task[None] | None:
        """Stop an input: a Tap (sync ``close()``) is closed at once; the input's task is
        cancelled (its ``finally`` closes an async generator once it has stopped); an input
        that never got a task is closed here. Returns what to await for a full stop."""
        task = slot.video_task if kind == "video" else slot.audio_task
        source = slot.video_input if kind == "video" else slot.audio_input
        if kind == "video":
            slot.video_task, slot.video_input, slot.video_live = None, None, False
        else:
            slot.audio_task, slot.audio_input, slot.has_audio = None, None, False
        if source is None:
            return None
        close = getattr(source, "close", None)
        if callable(close) and not inspect.iscoroutinefunction(close):
            with contextlib.suppress(Exception):
                close()  # idempotent per the Tap contract; the task's finally repeats it
        if task is not None:
            task.cancel()
            return task
        result = _close_iterator(source)
        if result is None:
            return None
        if self._loop is not None:
            return self._loop.create_task(_await_quietly(result))
        close_awaitable = getattr(result, "close", None)  # no loop to await it on
        if callable(close_awaitable):
            close_awaitable()
        return None

    async def _pump_video(self, slot: _Slot, source: AsyncIterator[av.VideoFrame]) -> None:
        seq = 0
        try:
            async for frame in source:
                seq += 1
                slot.latest = _Latest(frame, time.monotonic(), seq)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("video input of %s failed", slot.pid)
        finally:
            if slot.video_input is source:
                slot.video_live = False
            result = _close_iterator(source)
            if result is not None:
                with contextlib.suppress(Exception):
                    await result

    async def _pump_audio(self, slot: _Slot, source: AsyncIterator[av.AudioFrame]) -> None:
        try:
            async for frame in source:
                slot.audio_queue.append(frame)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("audio input of %s failed", slot.pid)
        finally:
            result = _close_iterator(source)
            if result is not None:
                with contextlib.suppress(Exception):
                    await result

    # --- delivery (event loop) ----------------------------------------------------------

    def _emit(self, frame: EncodedFrame) -> None:
        """From a worker thread: hand ``frame`` to the sinks on the event loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed under us
            loop.call_soon_threadsafe(self._deliver, frame)

    def _deliver(self, frame: EncodedFrame) -> None:
        for sink, kind in self._sinks:
            if kind is not None and kind != frame.kind:
                continue
            try:
                sink(frame)
            except Exception:
                log.exception("compositor sink %r failed", sink)

    def _deliver_mix(self, frame: av.AudioFrame) -> None:
        for sink in self._mix_sinks:
            try:
                sink(frame)
            except Exception:
                log.exception("compositor mix sink %r failed", sink)

    # --- video thread -------------------------------------------------------------------

    def _open_video_encoder(self) -> av.VideoCodecContext:
        cfg = self.config
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

    def _start_clock(self) -> None:
        self._t0 = time.monotonic()
        self._clock_started.set()

    def _wait_ready(self, opened: bool) -> None:
        """The encoder and audio threads open their encoder first, then share one clock
        start, so the first ticks are not late (and audio and video timestamps share
        their zero)."""
        assert self._ready is not None
        if not opened:
            self._ready.abort()
            return
        try:
            self._ready.wait(timeout=10)
        except threading.BrokenBarrierError:
            self._start_clock()  # the other thread failed: run alone

    def _wait_for_tick(self, tick: int, period: float) -> tuple[float, int] | None:
        """Sleep until tick ``tick`` of the shared clock; returns (now, whole periods late),
        or None once the compositor is stopping."""
        if self._stop.is_set():
            return None
        deadline = self._t0 + tick * period
        now = time.monotonic()
        if now < deadline:
            if self._stop.wait(deadline - now):
                return None
            now = time.monotonic()
        return now, int((now - deadline) / period)

    def _video_main(self) -> None:
        """Compose a frame every tick and hand it to the encoder thread."""
        while not self._clock_started.wait(0.1):
            if self._stop.is_set():
                return
        period = 1.0 / self.config.fps
        tick = 0
        last_error_log = 0.0
        st = self.stats
        while (late := self._wait_for_tick(tick, period)) is not None:
            now, behind = late
            # A short stall is caught up (frames go out back to back with their own
            # timestamps); only when a few frames behind are the missed ticks skipped.
            if behind >= _MAX_CATCH_UP:
                st.video_frames_dropped += behind
                tick += behind
            try:
                started = time.perf_counter()
                frame = self._compose(now)
                st.compose_ms += 0.05 * ((time.perf_counter() - started) * 1000 - st.compose_ms)
                if (
                    self._keyframe_wanted
                    and now - self._last_keyframe >= self.config.min_keyframe_gap_s
                ):
                    self._keyframe_wanted = False
                    self._last_keyframe = now
                    frame.pict_type = PictureType.I
                frame.pts = tick
                self._last_frame = frame
                self._queue_for_encoding(frame)
            except Exception:
                st.errors += 1
                if time.monotonic() - last_error_log > 5:
                    last_error_log = time.monotonic()
                    log.exception("composite video frame failed")
            tick += 1

    def _queue_for_encoding(self, frame: av.VideoFrame) -> None:
        """Never wait for the encoder: if it is two frames behind, the older waiting frame
        is dropped (a forced keyframe moves to the newer one)."""
        try:
            self._encode_queue.put_nowait(frame)
            return
        except queue.Full:
            pass
        try:
            old = self._encode_queue.get_nowait()
        except queue.Empty:
            old = None
        if old is not None:  # counted like a skipped tick
            self.stats.video_frames_dropped += 1
            if old.pict_type == PictureType.I:
                frame.pict_type = PictureType.I
        with contextlib.suppress(queue.Full):
            self._encode_queue.put_nowait(frame)

    def _encode_main(self) -> None:
        """Encode composed frames with libx264 (which releases the GIL while it works)."""
        try:
            enc = self._open_video_encoder()
        except Exception:
            log.exception("cannot open the H.264 encoder")
            self.stats.errors += 1
            self._wait_ready(False)
            return
        self._wait_ready(True)
        last_error_log = 0.0
        st = self.stats
        while not self._stop.is_set():
            try:
                frame = self._encode_queue.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                started = time.perf_counter()
                for packet in enc.encode(frame):
                    self._emit_video(packet)
                st.encode_ms += 0.05 * ((time.perf_counter() - started) * 1000 - st.encode_ms)
            except Exception:
                st.errors += 1
                if time.monotonic() - last_error_log > 5:
                    last_error_log = time.monotonic()
                    log.exception("composite video encoding failed")

    def _emit_video(self, packet: av.Packet[Any]) -> None:
        payload = bytes(packet)
        if not payload or packet.pts is None:
            return
        keyframe = bool(packet.is_keyframe)
        st = self.stats
        st.video_frames_out += 1
        st.video_bytes_out += len(payload)
        if keyframe:
            st.keyframes_out += 1
            self._last_keyframe = time.monotonic()
        self._emit(
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

    def _clock_text(self) -> str:
        return datetime.now(self.config.clock_tz).strftime("%Y-%m-%d %H:%M:%S")

    def _refresh_header(self, clock: str) -> None:
        key = (*self._info, clock)
        if key == self._header_key:
            return
        court, case_number, title = self._info
        header = render_header(self._text, court, case_number, title, clock, CANVAS_W, HEADER_H)
        blit(self._background, header, 0, 0)
        self._header_key = key

    def _compose(self, now: float) -> av.VideoFrame:
        with self._lock:
            slots = dict(self._slots)
        layout = self._layout
        seats = [Seat(s.pid, s.role, s.side, s.joined) for s in slots.values()]
        presiding = presiding_pid(seats)
        speaker = self._speaker
        placements = place(layout, seats, speaker)
        # text drawn this tick (new labels, cards) may take this long; the rest waits
        self._render_until = time.perf_counter() + 0.3 / self.config.fps
        self._refresh_header(self._clock_text())

        frame = av.VideoFrame(CANVAS_W, CANVAS_H, "yuv420p")
        canvas = _planes_of(frame)
        for dst, src in zip(canvas, self._background, strict=True):
            np.copyto(dst, src)
        tiles: list[TileState] = []
        for placement in placements:
            slot = slots[placement.pid]
            tiles.append(self._draw_tile(canvas, slot, placement, now, presiding, layout, speaker))
        self._tiles = tuple(tiles)
        return frame

    def _draw_tile(
        self,
        canvas: Planes,
        slot: _Slot,
        placement: TilePlacement,
        now: float,
        presiding: str | None,
        layout: Layout,
        speaker: str | None,
    ) -> TileState:
        rect = placement.rect
        latest = slot.latest
        kind: TileKind
        video_rect: Rect | None = None
        if latest is None or not slot.video_live:
            kind = "name_card"
            card = self._name_card(slot, rect)
            if card is None:
                fill(canvas, rect.x, rect.y, rect.w, rect.h, self._card_bg)
            else:
                blit(canvas, card, rect.x, rect.y)
        else:
            planes, video_rect = self._scaled(slot, latest, rect)
            if video_rect != rect:  # letterbox / pillarbox
                fill(canvas, rect.x, rect.y, rect.w, rect.h, self._tile_bg)
            blit(canvas, planes, video_rect.x, video_rect.y)
            kind = "frozen" if now - latest.received > self.config.frozen_after_s else "video"
        is_speaker = slot.pid == speaker and layout is not Layout.SPEAKER_FOLLOW
        if is_speaker and rect.w >= 64:
            frame_border(canvas, rect.x, rect.y, rect.w, rect.h, 4, SPEAKER_BORDER)
        banner = self._banner(rect) if kind == "frozen" else None
        if banner is not None:
            banner.blend(
                canvas,
                rect.x + (rect.w - banner.width) // 2,
                rect.y + (rect.h - banner.height) // 2,
            )
        label = self._label(slot, rect, presiding)
        if label is not None:
            margin = 6 if rect.h >= 150 else 4
            label.blend(canvas, rect.x + margin, rect.y + rect.h - label.height - margin)
        return TileState(slot.pid, rect, video_rect, kind, placement.focus, slot.pid == speaker)

    def _scaled(self, slot: _Slot, latest: _Latest, rect: Rect) -> tuple[Planes, Rect]:
        """The newest frame scaled to fit ``rect``: once per new frame and tile size."""
        key = (latest.seq, rect.w, rect.h)
        cached = slot.scaled
        if cached is None or cached.key != key:
            src = latest.frame
            fitted = fit_rect(src.width, src.height, Rect(0, 0, rect.w, rect.h))
            out = self._reformatter.reformat(
                src, fitted.w, fitted.h, "yuv420p", interpolation=Interpolation.BILINEAR
            )
            cached = slot.scaled = _Scaled(key, _planes_of(out), (fitted.x, fitted.y), out)
        h, w = cached.planes[0].shape
        return cached.planes, Rect(rect.x + cached.offset[0], rect.y + cached.offset[1], w, h)

    # Text is drawn once per change and cached; when this tick's drawing budget is spent,
    # a missing picture waits for a later tick (a plain card, the previous label if it
    # fits, no banner yet) so that a layout switch never costs output frames.

    def _may_render(self) -> bool:
        return time.perf_counter() < self._render_until

    def _name_card(self, slot: _Slot, rect: Rect) -> Planes | None:
        key = (rect.w, rect.h, slot.name)
        if slot.card is None or slot.card[0] != key:
            if not self._may_render():
                return None
            slot.card = (key, render_name_card(self._text, slot.name, rect.w, rect.h))
        return slot.card[1]

    def _label(self, slot: _Slot, rect: Rect, presiding: str | None) -> Overlay | None:
        caption = slot.label_override or role_label(
            slot.role, slot.side, presiding=slot.pid == presiding
        )
        key = (caption, slot.name, slot.muted, rect.w, rect.h)
        if slot.label is None or slot.label[0] != key:
            if not self._may_render():
                old = slot.label[1] if slot.label is not None else None
                fits = old is not None and old.width <= rect.w - 8 and old.height <= rect.h - 8
                return old if fits else None
            overlay = render_label(self._text, caption, slot.name, slot.muted, rect.w, rect.h)
            slot.label = (key, overlay)
        return slot.label[1]

    def _banner(self, rect: Rect) -> Overlay | None:
        key = (rect.w, rect.h)
        banner = self._banners.get(key)
        if banner is None:
            if not self._may_render():
                return None
            banner = self._banners[key] = render_frozen_banner(self._text, rect.w, rect.h)
        return banner

    # --- audio thread -------------------------------------------------------------------

    def _open_audio_encoder(self) -> av.AudioCodecContext:
        enc = av.CodecContext.create("libopus", "w")
        enc.sample_rate = SAMPLE_RATE
        enc.layout = "mono"
        enc.format = "s16"
        enc.bit_rate = self.config.audio_bitrate
        enc.time_base = Fraction(1, SAMPLE_RATE)
        enc.open()
        return enc

    def _audio_main(self) -> None:
        try:
            enc = self._open_audio_encoder()
        except Exception:
            log.exception("cannot open the Opus encoder")
            self.stats.errors += 1
            self._wait_ready(False)
            return
        self._wait_ready(True)
        mixer = AudioMixer()
        tracker = SpeakerTracker()
        period = BLOCK / SAMPLE_RATE
        block = 0
        last_error_log = 0.0
        while (late := self._wait_for_tick(block, period)) is not None:
            now, behind = late
            if behind >= 2:  # 40 ms late: skip ahead (the receivers conceal the gap)
                self.stats.audio_blocks_dropped += behind
                block += behind
            try:
                self._audio_block(enc, mixer, tracker, block, now)
            except Exception:
                self.stats.errors += 1
                if time.monotonic() - last_error_log > 5:
                    last_error_log = time.monotonic()
                    log.exception("composite audio block failed")
            block += 1

    def _audio_block(
        self,
        enc: av.AudioCodecContext,
        mixer: AudioMixer,
        tracker: SpeakerTracker,
        block: int,
        now: float,
    ) -> None:
        with self._lock:
            slots = list(self._slots.values())
        present, unmuted = set(), set()
        for slot in slots:
            if not slot.has_audio:
                continue
            present.add(slot.pid)
            if not slot.muted:
                unmuted.add(slot.pid)
            queue = slot.audio_queue
            frames = []
            while queue:
                try:
                    frames.append(queue.popleft())
                except IndexError:
                    break
            mixer.feed(slot.pid, frames)
        pcm, _ = mixer.mix(present, unmuted)
        levels = mixer.levels()
        self._levels = levels
        self._speaker = tracker.update({p: levels[p] for p in unmuted if p in levels}, now)
        st = self.stats
        st.audio_underruns = mixer.stats.underruns
        st.audio_limited_blocks = mixer.stats.limited_blocks

        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = block * BLOCK
        frame.time_base = Fraction(1, SAMPLE_RATE)
        if self._mix_sinks and self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._deliver_mix, frame)
        for packet in enc.encode(frame):
            payload = bytes(packet)
            if not payload:
                continue
            st.audio_packets_out += 1
            self._emit(
                EncodedFrame(
                    pid=self.config.pid,
                    track_id=f"{self.config.pid}-audio",
                    kind="audio",
                    codec=AUDIO_CODEC,
                    payload=payload,
                    rtp_timestamp=block * BLOCK,
                    clock_rate=SAMPLE_RATE,
                    keyframe=True,
                    arrival=time.monotonic(),
                )
            )


def _close_iterator(source: object) -> Any:
    """Close a Tap (``close()``) or an async generator (``aclose()``); returns an awaitable
    to await, if any."""
    close = getattr(source, "close", None)
    if callable(close):
        result = close()
        return result if inspect.isawaitable(result) else None
    aclose = getattr(source, "aclose", None)
    if callable(aclose):
        return aclose()
    return None


async def _await_quietly(awaitable: Any) -> None:
    with contextlib.suppress(Exception):
        await awaitable


__all__ = [
    "AUDIO_CODEC",
    "H264_PROFILE_LEVEL_ID",
    "VIDEO_CODEC",
    "Compositor",
    "CompositorConfig",
    "CompositorStats",
    "Layout",
    "TileState",
]
