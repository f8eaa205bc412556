"""What one receiver saw: first frame, decoded frames and glass-to-glass latency.

A meter reads decoded frames from a track until it ends. Outside a measurement window
it only notes the first frame; inside (``begin_window`` .. ``end_window``) it counts
frames and records the latency read from each frame's clock stamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from .clockstamp import elapsed_ms, now_ticks, read_stamp


@dataclass
class Window:
    """Counts inside the measurement window."""

    started: float = 0.0  # time.monotonic()
    ended: float | None = None
    frames: int = 0
    unreadable: int = 0  # frames whose stamp failed its CRC
    latencies_ms: list[float] = field(default_factory=list)
    read_at: list[float] = field(default_factory=list)  # time.monotonic() of each latency


class FrameMeter:
    """Consumes ``track`` and measures it; ``join_started`` is a time.monotonic()."""

    def __init__(self, name: str, join_started: float) -> None:
        self.name = name
        self.join_started = join_started
        self.join_started_wall = time.time() - (time.monotonic() - join_started)
        self.first_frame_at: float | None = None
        self.frames_total = 0
        self.window: Window | None = None
        self.first_frame = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, track: MediaStreamTrack) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(track), name=self.name)

    async def _run(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                now = now_ticks()
                if self.first_frame_at is None:
                    self.first_frame_at = time.monotonic()
                    self.first_frame.set()
                self.frames_total += 1
                window = self.window
                if window is None or window.ended is not None:
                    continue
                window.frames += 1
                if not isinstance(frame, VideoFrame):
                    continue
                plane = frame.planes[0]
                stamp = read_stamp(memoryview(plane), plane.line_size)
                if stamp is None:
                    window.unreadable += 1
                else:
                    window.latencies_ms.append(elapsed_ms(stamp, now))
                    window.read_at.append(time.monotonic())

    @property
    def join_to_first_frame_ms(self) -> float | None:
        if self.first_frame_at is None:
            return None
        return (self.first_frame_at - self.join_started) * 1000

    def begin_window(self) -> None:
        self.window = Window(started=time.monotonic())

    def end_window(self) -> None:
        if self.window is not None and self.window.ended is None:
            self.window.ended = time.monotonic()

    def result(self) -> dict[str, Any]:
        """Everything measured, as JSON-ready data (latencies in full, for pooling)."""
        out: dict[str, Any] = {
            "name": self.name,
            "join_to_first_frame_ms": self.join_to_first_frame_ms,
            "join_started_wall": self.join_started_wall,
            "frames_total": self.frames_total,
        }
        w = self.window
        if w is not None and w.ended is not None:
            duration = w.ended - w.started
            out.update(
                window_s=duration,
                frames=w.frames,
                fps=w.frames / duration if duration > 0 else 0.0,
                unreadable_stamps=w.unreadable,
                latencies_ms=[round(x, 2) for x in w.latencies_ms],
                latency_read_at=[round(t, 3) for t in w.read_at],
            )
        return out

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
