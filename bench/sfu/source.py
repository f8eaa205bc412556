"""A paced 30 fps camera whose pictures carry a clock stamp, shared by several senders.

Each consumer (the publish connection to the SFU, the direct peer-to-peer call) reads its
own ``CameraTrack``: the same picture and stamp, but its own ``VideoFrame`` (an encoder
marks the frame it encodes, e.g. as a forced keyframe, so frames are not shared).
A consumer that falls behind loses the oldest picture, as a real camera's would.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from .clockstamp import now_ticks
from .pattern import HEIGHT, WIDTH, PatternPictures

FPS = 30
_VIDEO_CLOCK = 90_000
_TIME_BASE = fractions.Fraction(1, _VIDEO_CLOCK)

Picture = tuple[int, bytes, bytes, bytes]  # frame number, Y, U, V


class CameraTrack(MediaStreamTrack):
    """One consumer's view of the camera."""

    kind = "video"

    def __init__(self, name: str, depth: int = 2) -> None:
        super().__init__()
        self.name = name
        self.delivered = 0
        self.dropped = 0
        self._queue: asyncio.Queue[Picture | None] = asyncio.Queue(depth)

    def offer(self, picture: Picture) -> None:
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
                self.dropped += 1
        self._queue.put_nowait(picture)

    def finish(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        picture = await self._queue.get()
        if picture is None:
            self.stop()
            raise MediaStreamError
        n, y, u, v = picture
        frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
        widths = (WIDTH, WIDTH // 2, WIDTH // 2)
        for plane, data, width in zip(frame.planes, (y, u, v), widths, strict=True):
            _fill(plane, data, width)
        frame.pts = n * (_VIDEO_CLOCK // FPS)
        frame.time_base = _TIME_BASE
        self.delivered += 1
        return frame


def _fill(plane: object, data: bytes, width: int) -> None:
    """Copy tightly packed rows into ``plane``, honouring its line size."""
    line_size: int = plane.line_size  # type: ignore[attr-defined]
    if line_size == width:
        plane.update(data)  # type: ignore[attr-defined]
        return
    rows = len(data) // width
    padded = b"".join(
        data[r * width : (r + 1) * width].ljust(line_size, b"\0") for r in range(rows)
    )
    plane.update(padded)  # type: ignore[attr-defined]


class Camera:
    """Produces stamped pictures at ``FPS`` and offers each to every track."""

    def __init__(self) -> None:
        self._pictures = PatternPictures()
        self.tracks: list[CameraTrack] = []
        self.produced = 0
        self._task: asyncio.Task[None] | None = None

    def track(self, name: str) -> CameraTrack:
        track = CameraTrack(name)
        self.tracks.append(track)
        return track

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="camera")

    async def _run(self) -> None:
        start = time.monotonic()
        n = 0
        while True:
            delay = start + n / FPS - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:  # far behind (machine overloaded): skip, don't burst
                skipped = int(-delay * FPS)
                n += skipped
                continue
            y, u, v = self._pictures.planes(n, now_ticks())
            self.produced += 1
            for track in self.tracks:
                track.offer((n, y, u, v))
            n += 1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for track in self.tracks:
            track.finish()
