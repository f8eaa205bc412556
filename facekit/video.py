"""Frames of a video file (any format PyAV reads, y4m included) for the face check."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import av
import numpy as np

from .engine import FRAME_SIDE
from .images import RGB


def to_rgb(frame: av.VideoFrame, max_side: int = FRAME_SIDE) -> RGB:
    """A decoded frame as RGB, scaled down (never up) to ``max_side``."""
    width, height = frame.width, frame.height
    scale = min(1.0, max_side / max(width, height))
    w = max(2, int(width * scale) // 2 * 2)
    h = max(2, int(height * scale) // 2 * 2)
    return np.asarray(frame.to_ndarray(format="rgb24", width=w, height=h), dtype=np.uint8)


def read_frames(path: str, fps: float = 8.0) -> Iterator[tuple[float, RGB]]:
    """``(seconds, rgb)`` of the first video stream, at most ``fps`` frames a second (by the
    frames' timestamps). Raises ``av.error.FFmpegError`` (or ``ValueError``: no video)."""
    step = 1.0 / fps
    with av.open(path) as container:
        if not container.streams.video:
            raise ValueError(f"{path}: no video stream")
        stream = container.streams.video[0]
        next_t: float | None = None
        for i, frame in enumerate(container.decode(stream)):
            if frame.pts is not None and frame.time_base is not None:
                t = float(frame.pts * frame.time_base)
            else:
                rate = float(stream.average_rate or 25)
                t = i / rate
            if next_t is not None and t + 1e-6 < next_t:
                continue
            next_t = t + step
            yield t, to_rgb(frame)


async def aiter_frames(path: str, fps: float = 8.0) -> AsyncIterator[tuple[float, RGB]]:
    for item in read_frames(path, fps):
        yield item
