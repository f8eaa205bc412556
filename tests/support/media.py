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

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

from signaling.client import HearingClient

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


class MediaSeen:
    """Whose media a client really receives: every track its subscriber gets is decoded, each
    video frame identified by its colour and each stretch of audio by its tone, and the moment
    each publisher was last seen or heard is kept. This reads the received RTP itself, not the
    signaling's labels, so media forwarded on the wrong track would show as well.

    ``people`` maps a name to the (colour, tone) that person publishes; :meth:`seen_since`
    picks up tracks that arrived since. The sums are numpy's: the server shares this event
    loop, and pure-Python sums over many tracks would hold up its forwarding."""

    _WINDOW = SAMPLE_RATE // 25  # 40 ms of audio tells tones 120 Hz apart
    _AUDIO_EVERY = 10  # identify the audio every 0.2 s (20 ms frames)
    _VIDEO_EVERY = 3  # and every third video frame

    def __init__(
        self, client: HearingClient, people: dict[str, tuple[tuple[int, int, int], float]]
    ) -> None:
        self._client = client
        self._names = list(people)
        self._colours = np.array([people[n][0] for n in self._names], dtype=np.int32)
        t = np.arange(self._WINDOW) / SAMPLE_RATE
        self._basis = np.exp(-2j * np.pi * np.outer(t, [people[n][1] for n in self._names]))
        # The tracks are kept, so that no new track can take an ended one's id.
        self._tasks: dict[int, tuple[MediaStreamTrack, asyncio.Task[None]]] = {}
        self.last_seen: dict[tuple[str, str], float] = {}  # (name, kind) -> monotonic time
        self.frames: dict[int, int] = {}  # decoded frames per received track

    def sync(self) -> None:
        for item in list(self._client.received.values()):
            track = item.track
            if id(track) not in self._tasks:
                task = asyncio.create_task(self._read(track), name=f"seen:{track.kind}")
                self._tasks[id(track)] = (track, task)

    def seen_since(self, since: float, kind: str | None = None) -> set[str]:
        """Names whose media (of ``kind``, or any) was decoded at or after ``since``."""
        self.sync()
        return {
            name
            for (name, k), at in self.last_seen.items()
            if at >= since and (kind is None or k == kind)
        }

    def __repr__(self) -> str:
        now = time.monotonic()
        last = {f"{n}/{k}": round(now - at, 1) for (n, k), at in sorted(self.last_seen.items())}
        offered = sorted(f"{pid[:6]}/{kind}" for pid, kind in self._client.received)
        pc = self._client.subscribe_pc
        state = (pc.connectionState, pc.signalingState) if pc is not None else None
        return (
            f"offered {offered}, identified s ago {last}, frames per track"
            f" {[(t.kind, self.frames.get(i, 0)) for i, (t, _) in self._tasks.items()]},"
            f" subscriber {state}"
        )

    def _video(self, frame: VideoFrame) -> str | None:
        rgb = frame.to_ndarray(format="rgb24")
        h, w = rgb.shape[:2]
        # The left half: the test tracks keep their noise box in the right-hand quarter.
        mean = rgb[16 : h - 16 : 8, 16 : w // 2 : 8].reshape(-1, 3).mean(axis=0)
        close = np.all(np.abs(self._colours - mean) <= 30, axis=1)
        return self._names[int(np.argmax(close))] if close.any() else None

    def _audio(self, samples: np.ndarray) -> str | None:
        power = np.abs(samples @ self._basis) ** 2
        order = np.argsort(power)[::-1]
        best, second = power[order[0]], power[order[1]]
        # A publisher's tone over 40 ms is ~1e13; silence and codec noise are orders of
        # magnitude below, and a mix of two tones has no single winner.
        return self._names[int(order[0])] if best > 1e11 and best > 20 * second else None

    async def _read(self, track: MediaStreamTrack) -> None:
        samples: deque[np.ndarray] = deque()
        held = count = 0
        try:
            while True:
                frame = await track.recv()
                count += 1
                self.frames[id(track)] = count
                name: str | None = None
                if isinstance(frame, VideoFrame):
                    if count % self._VIDEO_EVERY == 0:
                        name = self._video(frame)
                elif isinstance(frame, AudioFrame):
                    data = frame.to_ndarray()
                    pcm = (
                        data[0]
                        if frame.format.is_planar
                        else data.reshape(-1, len(frame.layout.channels))[:, 0]
                    )
                    samples.append(pcm.astype(np.float64))
                    held += len(pcm)
                    while held - len(samples[0]) >= self._WINDOW:
                        held -= len(samples.popleft())
                    if count % self._AUDIO_EVERY == 0 and held >= self._WINDOW:
                        name = self._audio(np.concatenate(samples)[-self._WINDOW :])
                if name is not None:
                    self.last_seen[(name, track.kind)] = time.monotonic()
        except MediaStreamError:
            return

    async def stop(self) -> None:
        for _, task in self._tasks.values():
            task.cancel()
        for _, task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
