"""Synthetic media for tests: per-participant colour and tone tracks, and consumers that
decode what arrives and tell whose colour and tone it carries."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import os
import time
from array import array
from collections import deque
from dataclasses import dataclass, field

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

WIDTH, HEIGHT, FPS = 320, 240, 15
SAMPLE_RATE = 48000
AUDIO_SAMPLES = 960  # 20 ms


def _yuv(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    return round(y), round(u), round(v)


class ColourVideoTrack(MediaStreamTrack):
    """Solid colour frames with a noise box in the right-hand quarter."""

    kind = "video"

    def __init__(self, colour: tuple[int, int, int]) -> None:
        super().__init__()
        y, u, v = _yuv(colour)
        self._y = bytes([y]) * (WIDTH * HEIGHT)
        self._u = bytes([u]) * (WIDTH * HEIGHT // 4)
        self._v = bytes([v]) * (WIDTH * HEIGHT // 4)
        self._start: float | None = None
        self._count = 0

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count / FPS
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
        luma = bytearray(self._y)
        box_w, x0 = 48, WIDTH - 64
        for row in range(HEIGHT // 2 - 24, HEIGHT // 2 + 24):
            start = row * WIDTH + x0
            luma[start : start + box_w] = os.urandom(box_w)
        frame.planes[0].update(bytes(luma))
        frame.planes[1].update(self._u)
        frame.planes[2].update(self._v)
        frame.pts = self._count * (90000 // FPS)
        frame.time_base = fractions.Fraction(1, 90000)
        self._count += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """A continuous sine tone, 20 ms frames of s16 mono at 48 kHz."""

    kind = "audio"

    def __init__(self, frequency: float) -> None:
        super().__init__()
        self._table = array(
            "h",
            (
                int(8000 * math.sin(2 * math.pi * frequency * i / SAMPLE_RATE))
                for i in range(SAMPLE_RATE + AUDIO_SAMPLES)
            ),
        )
        self._start: float | None = None
        self._count = 0

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count * AUDIO_SAMPLES / SAMPLE_RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        offset = (self._count * AUDIO_SAMPLES) % SAMPLE_RATE
        frame = AudioFrame(format="s16", layout="mono", samples=AUDIO_SAMPLES)
        frame.planes[0].update(self._table[offset : offset + AUDIO_SAMPLES].tobytes())
        frame.pts = self._count * AUDIO_SAMPLES
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._count += 1
        return frame


def goertzel_power(samples: list[int], frequency: float, rate: int = SAMPLE_RATE) -> float:
    """Power of ``frequency`` in ``samples`` (one DFT bin)."""
    coeff = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2, s1 = s1, s0
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def mean_left_colour(frame: VideoFrame) -> tuple[int, int, int]:
    """Mean RGB of a grid of points in the left half of a frame."""
    rgb = frame.reformat(format="rgb24")
    plane = rgb.planes[0]
    data = bytes(plane)
    total = [0, 0, 0]
    n = 0
    for y in range(16, rgb.height - 16, 16):
        for x in range(16, rgb.width // 2, 16):
            i = y * plane.line_size + 3 * x
            total[0] += data[i]
            total[1] += data[i + 1]
            total[2] += data[i + 2]
            n += 1
    return (total[0] // n, total[1] // n, total[2] // n)


def close_colour(a: tuple[int, int, int] | None, b: tuple[int, int, int], tol: int = 30) -> bool:
    return a is not None and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


@dataclass
class Consumed:
    """What was decoded from one received track so far."""

    kind: str
    frames: int = 0
    ended: bool = False
    colour: tuple[int, int, int] | None = None
    samples: deque[int] = field(default_factory=lambda: deque(maxlen=SAMPLE_RATE // 5))

    def dominant_tone(self, candidates: list[float]) -> float | None:
        if len(self.samples) < 2000:
            return None
        data = list(self.samples)
        return max(candidates, key=lambda f: goertzel_power(data, f))


class TrackConsumer:
    """Reads a track in the background until it ends or the consumer is stopped."""

    def __init__(self, track: MediaStreamTrack) -> None:
        self.state = Consumed(track.kind)
        self._track = track
        self._task = asyncio.create_task(self._run(), name=f"consume:{track.kind}")

    async def _run(self) -> None:
        try:
            while True:
                frame = await self._track.recv()
                self.state.frames += 1
                if isinstance(frame, VideoFrame):
                    if self.state.frames % 5 == 1:
                        self.state.colour = mean_left_colour(frame)
                elif isinstance(frame, AudioFrame):
                    channels = len(frame.layout.channels)
                    pcm = array("h", bytes(frame.planes[0]))[: frame.samples * channels]
                    self.state.samples.extend(pcm[::channels])
        except MediaStreamError:
            self.state.ended = True

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
