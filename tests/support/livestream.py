"""Encoded composite-like media for the livestream tests: H.264 (libx264, Annex-B) and Opus,
paced in real time, with RTP timestamps and arrival times as the compositor's taps give."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Callable

import av
import numpy as np

FPS = 25


class EncodedSource:
    """A 1280x720 picture whose brightness follows the frame number, and a 440 Hz tone."""

    def __init__(self, width: int = 1280, height: int = 720, gop_s: float = 2.0) -> None:
        self.width, self.height = width, height
        enc = av.CodecContext.create("libx264", "w")
        enc.width, enc.height = width, height
        enc.pix_fmt = "yuv420p"
        enc.framerate = fractions.Fraction(FPS, 1)
        enc.time_base = fractions.Fraction(1, FPS)
        enc.gop_size = round(gop_s * FPS)
        enc.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "forced-idr": "1",
        }
        enc.open()
        self._video = enc
        opus = av.CodecContext.create("libopus", "w")
        opus.sample_rate = 48_000
        opus.layout = "mono"
        opus.format = "s16"
        opus.open()
        self._opus = opus
        self._base = np.zeros((height, width, 3), np.uint8)
        self.keyframe_wanted = False
        self.frame = 0

    def video_frame(self) -> list[tuple[bytes, int, bool]]:
        self._base[:, :, 0] = (self.frame * 3) % 256
        f = av.VideoFrame.from_ndarray(self._base, format="rgb24").reformat(format="yuv420p")
        f.pts = self.frame
        if self.keyframe_wanted:
            f.pict_type = av.video.frame.PictureType.I
            self.keyframe_wanted = False
        self.frame += 1
        out = []
        for p in self._video.encode(f):
            assert p.pts is not None
            out.append((bytes(p), p.pts * 90_000 // FPS, bool(p.is_keyframe)))
        return out

    def audio_packets(self, block: int) -> list[tuple[bytes, int]]:
        t = np.arange(960) + block * 960
        samples = (np.sin(2 * np.pi * 440 * t / 48_000) * 6000).astype(np.int16)
        a = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        a.sample_rate = 48_000
        a.pts = block * 960
        return [(bytes(p), block * 960) for p in self._opus.encode(a)]


async def feed(
    source: EncodedSource,
    video: Callable[[bytes, int, int, float, bool], None],
    audio: Callable[[bytes, int, int, float], None],
    seconds: float,
) -> None:
    """Feed ``seconds`` of media in real time (25 fps video, 20 ms audio blocks)."""
    start = time.monotonic()
    v = a = 0
    while (now := time.monotonic()) - start < seconds:
        while v / FPS <= now - start:
            for payload, rtp, key in source.video_frame():
                video(payload, rtp, 90_000, time.monotonic(), key)
            v += 1
        while a * 0.02 <= now - start:
            for payload, rtp in source.audio_packets(a):
                audio(payload, rtp, 48_000, time.monotonic())
            a += 1
        await asyncio.sleep(0.01)
