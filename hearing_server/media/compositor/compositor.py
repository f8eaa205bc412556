"""The public ``Compositor``: participants in, sinks out, and the lifecycle of its input
tasks and worker threads (see the package docstring for who runs where)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable

import av

from hearing_server.core.participant import PartySide, Role

from ..taps import MediaKind
from .audio_loop import AudioLoop
from .clock import TickClock
from .compose import Composer
from .config import CompositorConfig, CompositorStats, TileState
from .encoder import KeyframeGate, VideoEncoder
from .frame_loop import FrameLoop
from .layout import Layout
from .participants import Latest, Room, Slot, pump_audio, pump_video, stop_input
from .sinks import EncodedSink, MixSink, Sinks

#: The tile id of the exhibit presented in the hearing (never a participant's id).
EXHIBIT_TILE = "exhibit"


class Compositor:
    """Composes the hearing room into one encoded view and one audio mix.

    Call the methods from the event loop thread. ``start()`` starts the threads; until
    then participants can be added but nothing is produced. The compositor owns the input
    iterators it is given: it closes them (``close()`` or ``aclose()``) when the
    participant is removed, the input is replaced, or the compositor closes.
    """

    def __init__(self, config: CompositorConfig | None = None) -> None:
        self.config = config or CompositorConfig()
        self.stats = CompositorStats()
        self._room = Room(self.config)
        self._composer = Composer(self.config, self._room)
        self._sinks = Sinks()
        self._keyframes = KeyframeGate(self.config.min_keyframe_gap_s)
        self._stop = threading.Event()
        self._clock = TickClock(self._stop)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._threads: list[threading.Thread] = []
        self._frame_loop: FrameLoop | None = None
        self._frame_divisor = 1
        self._closed = False
        self._exhibit_seq = 0

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
        beside: str | None = None,
    ) -> None:
        """Add ``pid`` to the view (or update it, replacing its inputs, if already in).

        ``role`` and ``side`` give the Chinese caption (审判长 for the earliest judge,
        原告/被告/... for parties); ``role_label`` overrides it. Without ``video`` (or
        until its first frame, or after it ends) the tile shows a name card; without
        ``audio`` the participant is not in the mix. ``beside``: a sign-language interpreter is
        pinned beside that participant (layout.place). A courtroom display is not a tile:
        it is ignored."""
        role = Role(role)
        if role is Role.COURTROOM_DISPLAY:
            return
        side_value = PartySide(side) if side is not None else None
        room = self._room
        with room.lock:
            slot = room.slots.get(pid)
            if slot is None:
                room.joined += 1
                slot = Slot(pid, name, role, side_value, role_label, room.joined, beside=beside)
                room.slots[pid] = slot
            else:
                slot.name, slot.role, slot.side = name, role, side_value
                slot.label_override = role_label
                slot.beside = beside
        self.set_video(pid, video)
        self.set_audio(pid, audio)

    def set_video(self, pid: str, video: AsyncIterator[av.VideoFrame] | None) -> None:
        """Replace ``pid``'s video input (None: name card); the old one is closed."""
        slot = self._room.slots[pid]
        stop_input(slot, "video", self._loop)
        slot.video_input = video
        slot.video_live = video is not None
        slot.latest = None
        if video is not None and self._loop is not None:
            slot.video_task = self._loop.create_task(pump_video(slot, video))

    def set_audio(self, pid: str, audio: AsyncIterator[av.AudioFrame] | None) -> None:
        """Replace ``pid``'s audio input (None: not in the mix); the old one is closed."""
        slot = self._room.slots[pid]
        stop_input(slot, "audio", self._loop)
        slot.audio_input = audio
        slot.has_audio = audio is not None
        slot.audio_queue.clear()
        if audio is not None and self._loop is not None:
            slot.audio_task = self._loop.create_task(pump_audio(slot, audio))

    def remove_participant(self, pid: str) -> None:
        """Take ``pid`` out of the view and the mix (no-op if absent)."""
        with self._room.lock:
            slot = self._room.slots.pop(pid, None)
        if slot is not None:
            stop_input(slot, "video", self._loop)
            stop_input(slot, "audio", self._loop)

    def set_muted(self, pid: str, muted: bool) -> None:
        """Leave ``pid`` out of the mix (and mark the tile 静音) while muted."""
        slot = self._room.slots.get(pid)
        if slot is not None:
            slot.muted = bool(muted)

    def set_layout(self, name: Layout | str) -> None:
        """judge_focus, grid or speaker_follow; takes effect with the next frame.
        Raises ``ValueError`` for another name."""
        self._room.layout = Layout(name)

    def set_spotlight(self, pid: str | None) -> None:
        """Pin ``pid`` in the large tile whatever the layout (None: the layout decides);
        takes effect with the next frame. Someone not in the view is ignored until they are."""
        self._room.spotlight = pid

    def show_exhibit(self, page: av.VideoFrame | None, caption: str, title: str) -> None:
        """Put an exhibit in the large tile (the evidence layout) until ``clear_exhibit``:
        ``page`` is the picture of what the presenter shows (None: a card with the title,
        e.g. an audio exhibit); ``caption`` (原告证据1) and ``title`` label it. Each call
        replaces the picture; takes effect with the next frame."""
        self._exhibit_seq += 1
        if self._room.exhibit is not None and self._room.exhibit.video_input is not None:
            self.clear_exhibit()
        slot = Slot(EXHIBIT_TILE, title, Role.COURTROOM_DISPLAY, None, caption, 0, still=True)
        if page is not None:
            slot.latest = Latest(page, time.monotonic(), self._exhibit_seq)
            slot.video_live = True
        self._room.exhibit = slot

    def show_exhibit_video(
        self, video: AsyncIterator[av.VideoFrame], caption: str, title: str
    ) -> None:
        """Like ``show_exhibit``, with a moving picture (a shared screen): the compositor owns
        ``video`` and closes it when the exhibit is cleared or replaced."""
        self.clear_exhibit()
        slot = Slot(EXHIBIT_TILE, title, Role.COURTROOM_DISPLAY, None, caption, 0, still=True)
        slot.video_input = video
        slot.video_live = True
        if self._loop is not None:
            slot.video_task = self._loop.create_task(pump_video(slot, video))
        self._room.exhibit = slot

    def clear_exhibit(self) -> None:
        """Back to the hearing's own layout."""
        old, self._room.exhibit = self._room.exhibit, None
        if old is not None and old.video_input is not None:
            stop_input(old, "video", self._loop)

    def set_hearing_info(
        self,
        *,
        court: str | None = None,
        case_number: str | None = None,
        title: str | None = None,
    ) -> None:
        """Change the header (court, case number, title); None keeps a value."""
        court0, case0, title0 = self._room.info
        self._room.info = (
            court0 if court is None else court,
            case0 if case_number is None else case_number,
            title0 if title is None else title,
        )

    def request_keyframe(self) -> None:
        """Make the next frame an IDR (at most one every ``min_keyframe_gap_s``)."""
        self._keyframes.request()

    @property
    def layout(self) -> Layout:
        return self._room.layout

    @property
    def participants(self) -> list[str]:
        return list(self._room.snapshot())

    @property
    def speaker(self) -> str | None:
        """The current speaker (speaker_follow's focus; highlighted in other layouts)."""
        return self._room.speaker

    def tile_states(self) -> list[TileState]:
        """The tiles of the last composed frame."""
        return list(self._composer.tiles)

    # --- outputs ----------------------------------------------------------------------

    def add_sink(self, sink: EncodedSink, *, kind: MediaKind | None = None) -> Callable[[], None]:
        """Call ``sink(frame)`` on the event loop for every encoded frame (of ``kind``
        only, if given); returns a function that removes the sink. A new video sink gets
        a keyframe soon. A sink must not block; its exceptions are logged."""
        remove = self._sinks.add(sink, kind)
        if kind != "audio":
            self.request_keyframe()
        return remove

    def add_mix_sink(self, sink: MixSink) -> Callable[[], None]:
        """Call ``sink(frame)`` on the event loop with every 20 ms block of the mix before
        encoding (s16 mono 48 kHz, pts in 48 kHz like the Opus timestamps), for a
        consumer that encodes audio its own way (e.g. AAC for the composite recording)."""
        return self._sinks.add_mix(sink)

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Start the input tasks and the compose, encode and audio threads (idempotent)."""
        if self._closed:
            raise RuntimeError("compositor is closed")
        if self._loop is not None:
            return
        self._loop = loop = asyncio.get_running_loop()
        self._sinks.attach(loop)
        for slot in self._room.snapshot().values():
            if slot.video_input is not None and slot.video_task is None:
                slot.video_task = loop.create_task(pump_video(slot, slot.video_input))
            if slot.audio_input is not None and slot.audio_task is None:
                slot.audio_task = loop.create_task(pump_audio(slot, slot.audio_input))
        self._composer.refresh_header()  # text rendering before the clock starts
        encoder = VideoEncoder(
            self.config,
            stop=self._stop,
            clock=self._clock,
            keyframes=self._keyframes,
            sinks=self._sinks,
            stats=self.stats,
        )
        self._frame_loop = video = FrameLoop(
            self.config.fps,
            clock=self._clock,
            composer=self._composer,
            keyframes=self._keyframes,
            encoder=encoder,
            stats=self.stats,
            idle=self._room.idle,
            keyframe_interval_s=self.config.keyframe_interval_s,
        )
        video.divisor = self._frame_divisor
        audio = AudioLoop(
            self.config, room=self._room, clock=self._clock, sinks=self._sinks, stats=self.stats
        )
        self._threads = [
            threading.Thread(target=video.run, name="compositor-video", daemon=True),
            threading.Thread(target=encoder.run, name="compositor-encode", daemon=True),
            threading.Thread(target=audio.run, name="compositor-audio", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def set_frame_divisor(self, divisor: int) -> None:
        """Compose only every ``divisor``-th frame (1: the full rate). Load shedding: the
        composite's rate falls before anything that matters more does."""
        self._frame_divisor = max(1, int(divisor))
        if self._frame_loop is not None:
            self._frame_loop.divisor = self._frame_divisor

    async def close(self) -> None:
        """Stop the threads and close every input (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        for thread in self._threads:
            await asyncio.to_thread(thread.join)
        with self._room.lock:
            slots = list(self._room.slots.values())
            self._room.slots.clear()
        tasks = []
        for slot in slots:
            for kind in ("video", "audio"):
                task = stop_input(slot, kind, self._loop)
                if task is not None:
                    tasks.append(task)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> Compositor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
