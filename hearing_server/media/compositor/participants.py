"""Who is in the composite: each participant's state (``Slot``), the room they share with
the worker threads (``Room``), and the event-loop tasks that feed a slot from its inputs.

An input task never blocks and does no media work: it only stores the newest video frame
(a reference swap) or appends an audio frame to a bounded deque, so a slow compositor
never slows an input.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

import av

from hearing_server.core.participant import PartySide, Role
from mediakit import close_source

from .config import CompositorConfig
from .draw import Overlay, Planes
from .layout import Layout

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Latest:
    frame: av.VideoFrame
    received: float  # time.monotonic()
    seq: int


@dataclass(slots=True)
class Scaled:
    key: tuple[int, int, int]  # (seq, tile w, tile h)
    planes: Planes
    offset: tuple[int, int]  # of the video inside the tile
    frame: av.VideoFrame  # keeps the planes' memory alive


@dataclass(slots=True)
class Slot:
    """One participant. Written by the event loop (inputs, flags), read by the threads;
    every field the threads read is replaced whole, never mutated in place."""

    pid: str
    name: str
    role: Role
    side: PartySide | None
    label_override: str | None
    joined: int
    muted: bool = False
    beside: str | None = None  # a sign-language interpreter: the pid they are pinned beside
    still: bool = False  # an exhibit's page: a picture that never goes stale
    latest: Latest | None = None
    video_live: bool = False  # a video input is attached and has not ended
    audio_queue: deque[av.AudioFrame] = field(default_factory=lambda: deque(maxlen=100))
    has_audio: bool = False
    video_input: AsyncIterator[av.VideoFrame] | None = None
    audio_input: AsyncIterator[av.AudioFrame] | None = None
    video_task: asyncio.Task[None] | None = None
    audio_task: asyncio.Task[None] | None = None
    # video thread only
    scaled: Scaled | None = None
    label: tuple[tuple[object, ...], Overlay] | None = None
    card: tuple[tuple[int, int, str], Planes] | None = None


class Room:
    """The participants and the view settings, shared by the event loop and the threads.

    ``slots`` changes only under ``lock``; the other attributes are replaced whole by one
    writer (``speaker`` by the audio thread, the rest by the event loop) and read
    without the lock."""

    def __init__(self, config: CompositorConfig) -> None:
        self.lock = threading.Lock()
        self.slots: dict[str, Slot] = {}
        self.joined = 0  # the last Slot.joined given out
        self.layout: Layout = config.layout
        self.info = (config.court, config.case_number, config.title)
        self.speaker: str | None = None
        self.spotlight: str | None = None  # pinned in the large tile by the judge
        # the exhibit presented on every screen: in the large tile while it is shown
        self.exhibit: Slot | None = None

    def snapshot(self) -> dict[str, Slot]:
        with self.lock:
            return dict(self.slots)

    def idle(self) -> bool:
        """Nobody sends anything: no live video or audio input, no moving exhibit."""
        exhibit = self.exhibit
        if exhibit is not None and exhibit.video_input is not None and exhibit.video_live:
            return False
        with self.lock:
            return not any(s.video_live or s.has_audio for s in self.slots.values())


def stop_input(
    slot: Slot, kind: Literal["video", "audio"], loop: asyncio.AbstractEventLoop | None
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
    if loop is not None:
        return loop.create_task(_close_quietly(source))
    return None  # no loop to close it on: a plain close() already ran above


async def pump_video(slot: Slot, source: AsyncIterator[av.VideoFrame]) -> None:
    seq = 0
    try:
        async for frame in source:
            seq += 1
            slot.latest = Latest(frame, time.monotonic(), seq)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("video input of %s failed", slot.pid)
    finally:
        if slot.video_input is source:
            slot.video_live = False
        with contextlib.suppress(Exception):
            await close_source(source)


async def pump_audio(slot: Slot, source: AsyncIterator[av.AudioFrame]) -> None:
    try:
        async for frame in source:
            slot.audio_queue.append(frame)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("audio input of %s failed", slot.pid)
    finally:
        if slot.audio_input is source:
            slot.has_audio = False
        with contextlib.suppress(Exception):
            await close_source(source)


async def _close_quietly(source: object) -> None:
    with contextlib.suppress(Exception):
        await close_source(source)
