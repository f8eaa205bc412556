"""Inputs for the compositor (solid colours, tones) and a decoder of its output."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from hearing_server.media.compositor.layout import Rect
from hearing_server.media.taps import EncodedFrame

RGB = tuple[int, int, int]

# Far apart from each other and from the compositor's own colours (dark backgrounds,
# the name card's slate, the speaker border's green, the banner's dark red).
COLOURS: list[RGB] = [
    (230, 40, 40),
    (40, 90, 230),
    (235, 215, 40),
    (210, 60, 210),
    (40, 210, 220),
    (245, 140, 30),
    (250, 250, 250),
    (130, 80, 30),
    (140, 140, 140),
]
FPS = 25


def solid_frame(rgb: RGB, w: int = 640, h: int = 360) -> av.VideoFrame:
    arr = np.empty((h, w, 3), np.uint8)
    arr[:] = rgb
    return av.VideoFrame.from_ndarray(arr, format="rgb24").reformat(format="yuv420p")


async def solid_video(
    rgb: RGB, *, seconds: float | None = None, w: int = 640, h: int = 360
) -> AsyncIterator[av.VideoFrame]:
    """A camera showing one colour at 25 fps; after ``seconds`` it stalls (no frames, not
    ended), like a publisher whose network froze."""
    frame = solid_frame(rgb, w, h)
    start = time.monotonic()
    i = 0
    while seconds is None or time.monotonic() - start < seconds:
        frame.pts = i * 3600
        yield frame
        i += 1
        await asyncio.sleep(max(0.0, start + i / FPS - time.monotonic()))
    await asyncio.Event().wait()


async def tone(
    freq: float, amplitude: float | Callable[[], float] = 0.3
) -> AsyncIterator[av.AudioFrame]:
    """A sine like a decoded tap gives it: s16 stereo 48 kHz, 20 ms frames, in real time.
    ``amplitude`` may be a function, read for every frame."""
    n = 0
    start = time.monotonic()
    while True:
        amp = amplitude() if callable(amplitude) else amplitude
        t = (np.arange(960) + n) / 48_000
        mono = (np.sin(2 * np.pi * freq * t) * amp * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(mono, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = 48_000
        frame.pts = n
        n += 960
        yield frame
        await asyncio.sleep(max(0.0, start + n / 48_000 - time.monotonic()))


class FakeTap:
    """A Tap-like input the test pushes frames into; records ``close()``."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = False

    def push(self, frame: Any) -> None:
        self._queue.put_nowait(frame)

    def end(self) -> None:
        self._queue.put_nowait(None)

    def __aiter__(self) -> FakeTap:
        return self

    async def __anext__(self) -> Any:
        frame = await self._queue.get()
        if frame is None:
            raise StopAsyncIteration
        return frame

    @property
    def dropped(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True


class CompositeOutput:
    """A sink: keeps the encoded frames and decodes the video as it arrives."""

    def __init__(self) -> None:
        self.video: list[EncodedFrame] = []
        self.audio: list[EncodedFrame] = []
        self.pictures: list[tuple[float, npt.NDArray[np.uint8]]] = []  # (arrival, rgb)
        self._decoder = av.CodecContext.create("h264", "r")

    def __call__(self, frame: EncodedFrame) -> None:
        if frame.kind == "audio":
            self.audio.append(frame)
            return
        self.video.append(frame)
        for picture in self._decoder.decode(av.Packet(frame.payload)):
            self.pictures.append((frame.arrival, picture.to_ndarray(format="rgb24")))
            del self.pictures[:-8]

    async def picture_after(self, moment: float, timeout: float = 5.0) -> npt.NDArray[np.uint8]:
        """The first decoded picture encoded after ``moment`` (time.monotonic()). A
        picture is encoded up to a few frame periods after it was composed: give a state
        change ~0.3 s before ``moment``."""
        deadline = time.monotonic() + timeout
        while True:
            for arrival, picture in self.pictures:
                if arrival >= moment:
                    return picture
            if time.monotonic() > deadline:
                raise AssertionError(f"no composite picture after {moment} in {timeout}s")
            await asyncio.sleep(0.02)

    def audio_after(self, moment: float) -> npt.NDArray[np.float32]:
        """The mix encoded after ``moment``, decoded (float, full scale 1.0)."""
        decoder = av.CodecContext.create("opus", "r")
        decoder.sample_rate = 48_000
        decoder.layout = "mono"
        chunks = []
        for frame in self.audio:
            for pcm in decoder.decode(av.Packet(frame.payload)):
                if frame.arrival >= moment:
                    chunks.append(pcm.to_ndarray().reshape(-1))
        return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def patch_colour(picture: npt.NDArray[np.uint8], x: int, y: int, r: int = 4) -> RGB:
    """Mean colour of a (2r)x(2r) patch around (x, y)."""
    patch = picture[y - r : y + r, x - r : x + r].reshape(-1, 3).mean(axis=0)
    return int(patch[0]), int(patch[1]), int(patch[2])


def close(a: RGB, b: RGB, tol: int = 28) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def centre_colour(picture: npt.NDArray[np.uint8], rect: Rect) -> RGB:
    x, y = rect.center
    return patch_colour(picture, x, y)


def goertzel(samples: npt.NDArray[np.float32], freq: float, rate: int = 48_000) -> float:
    """Normalised power of ``freq`` (≈ amplitude² / 4 for a sine)."""
    n = samples.shape[0]
    k = np.arange(n)
    re = float(np.dot(samples, np.cos(2 * math.pi * freq * k / rate)))
    im = float(np.dot(samples, np.sin(2 * math.pi * freq * k / rate)))
    return (re * re + im * im) / (n * n)


