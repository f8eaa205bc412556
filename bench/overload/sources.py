"""What a participant publishes: a small synthetic camera and a microphone, both counted.

The camera is 320x180 at 15 fps: a scrolling texture with a bouncing box of fresh noise, so
aiortc's VP8 encoder has about as much to do as with a real webcam picture and keeps near its
bitrate (a still picture would shrink every frame to one small packet and understate the
packet rate the server forwards). ``EncodedCamera`` sends the same pictures encoded once, in
a loop, as aiortc's encoder would (its settings, 500 kbit/s), so that nine phones' encoders
do not run on the server's cores: the benchmark measures the server, and the participants'
phones stand elsewhere in a hearing. The microphone is ``transcription.testing.SpeechTrack``:
real speech for a speaker, silence for everyone else.
"""

from __future__ import annotations

import asyncio
import fractions
import os
import time
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

from transcription.stt import SAMPLE_RATE, Samples
from transcription.testing import (
    COURT_SENTENCES,
    SpeechTrack,
    load_utterance,
    real_speech_set,
    silence,
    synthesize,
    to_16k,
)

WIDTH, HEIGHT, FPS = 320, 180, 15
AUDIO_FPS = 50  # 20 ms Opus frames
EXPECTED_FPS = {"video": FPS, "audio": AUDIO_FPS}
_VIDEO_CLOCK = 90_000
_TIME_BASE = fractions.Fraction(1, _VIDEO_CLOCK)
_BOX_W, _BOX_H = 64, 48
_SCROLL = 2  # pixels per frame


def _texture(seed: int) -> np.ndarray:
    """Luma twice the picture width, so any scroll offset is a plain slice; ``seed``
    changes the stripes so participants do not send identical pictures."""
    x = np.arange(2 * WIDTH)[None, :]
    y = np.arange(HEIGHT)[:, None]
    stripes = 60 * np.sin(2 * np.pi * x * 3 / WIDTH + y / (17 + seed % 7))
    rings = 40 * np.cos(np.hypot(x % WIDTH - WIDTH / 2, y - HEIGHT / 2) / (7 + seed % 5))
    luma: np.ndarray = np.clip(126 + stripes + rings, 16, 235).astype(np.uint8)
    return luma


def _bounce(pos: int, span: int) -> int:
    pos %= 2 * span
    return pos if pos <= span else 2 * span - pos


class _PacedCamera(MediaStreamTrack):
    """Paced like a camera from its first ``recv``; ``sent`` counts frames handed out.

    A consumer that fell more than a second behind (an overloaded client) skips the missed
    pictures instead of bursting them: a camera does not queue what nobody took.
    """

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._start: float | None = None
        self._n = 0
        self.sent = 0
        self.skipped = 0

    async def _next(self) -> tuple[int, int]:
        """Wait for the next picture's time: (its number, its pts on the 90 kHz clock)."""
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        delay = self._start + self._n / FPS - now
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -1.0:
            behind = int(-delay * FPS)
            self._n += behind
            self.skipped += behind
        n = self._n
        self._n += 1
        self.sent += 1
        return n, n * (_VIDEO_CLOCK // FPS)


class SyntheticCamera(_PacedCamera):
    """The scrolling texture with its box of noise, a fresh picture each frame."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self._texture = _texture(seed)
        self._chroma = np.full((HEIGHT // 2, WIDTH), 128, np.uint8)
        self._chroma[:, : WIDTH // 2] = 110 + 10 * (seed % 5)

    async def recv(self) -> VideoFrame:
        n, pts = await self._next()
        frame = VideoFrame.from_ndarray(self.picture(n), format="yuv420p")
        frame.pts = pts
        frame.time_base = _TIME_BASE
        return frame

    def picture(self, n: int) -> np.ndarray:
        offset = (n * _SCROLL) % WIDTH
        luma = self._texture[:, offset : offset + WIDTH].copy()
        bx = _bounce(n * 5, WIDTH - _BOX_W)
        by = _bounce(n * 3, HEIGHT - _BOX_H)
        noise = np.frombuffer(os.urandom(_BOX_W * _BOX_H), np.uint8).reshape(_BOX_H, _BOX_W)
        luma[by : by + _BOX_H, bx : bx + _BOX_W] = noise
        return np.concatenate([luma, self._chroma])


_ENCODED_LOOP = 45  # frames (3 s): one keyframe per loop, as a phone's after a PLI


def encode_loop(seed: int, frames: int = _ENCODED_LOOP) -> list[bytes]:
    """``frames`` pictures of ``SyntheticCamera(seed)`` encoded by libvpx with aiortc's VP8
    settings (CBR at its 500 kbit/s default, realtime), the first a keyframe."""
    camera = SyntheticCamera(seed)
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.bit_rate = 500_000
    codec.framerate = fractions.Fraction(FPS, 1)
    codec.time_base = fractions.Fraction(1, FPS)
    codec.gop_size = frames
    codec.options = {
        "bufsize": "500000",
        "cpu-used": "-6",
        "deadline": "realtime",
        "lag-in-frames": "0",
        "minrate": "500000",
        "maxrate": "500000",
        "undershoot-pct": "100",
        "overshoot-pct": "15",
        "static-thresh": "1",
    }
    out: list[bytes] = []
    for n in range(frames):
        frame = VideoFrame.from_ndarray(camera.picture(n), format="yuv420p")
        frame.pts = n
        frame.time_base = codec.time_base
        out.append(b"".join(bytes(p) for p in codec.encode(frame)))
    out[-1] += b"".join(bytes(p) for p in codec.encode(None))
    return out


class EncodedCamera(_PacedCamera):
    """A camera whose pictures were encoded once (``encode_loop``): aiortc packetizes them
    without encoding. Paced and counted like ``SyntheticCamera``."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self._frames = encode_loop(seed)

    async def recv(self) -> av.Packet[Any]:
        n, pts = await self._next()
        packet = av.Packet(self._frames[n % len(self._frames)])
        packet.pts = pts
        packet.time_base = _TIME_BASE
        return packet


#: Chromium's Opus DTX (which the server asks for): while the microphone hears silence, one
#: frame every 400 ms
DTX_EVERY = 20


class CountedAudio(MediaStreamTrack):
    """A SpeechTrack that counts the frames it hands to the Opus encoder.

    With ``dtx`` it behaves as Chromium does once the server's answer asks for Opus DTX
    (``usedtx=1``; aiortc's encoder has no DTX): a silent frame is handed on only every
    ``DTX_EVERY``-th, the others are withheld (``withheld``) and the RTP timestamps jump
    over them, as they do after a DTX pause.
    """

    kind = "audio"

    def __init__(self, speech: SpeechTrack, dtx: bool = True) -> None:
        super().__init__()
        self.speech = speech
        self.dtx = dtx
        self.sent = 0
        self.withheld = 0
        self._silent_run = 0

    async def recv(self) -> AudioFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            frame = await self.speech.recv()
            if self.dtx and not frame.to_ndarray().any():
                self._silent_run += 1
                if self._silent_run % DTX_EVERY != 1:
                    self.withheld += 1
                    continue
            else:
                self._silent_run = 0
            self.sent += 1
            return frame


def speech_samples(seconds: float, gap_s: float = 1.0) -> Samples:
    """At least ``seconds`` of real speech at 16 kHz: the pocketsphinx-testdata recordings
    with ``gap_s`` between them, repeated; flite's court sentences if that set is missing."""
    parts: list[Samples] = []
    try:
        for u in real_speech_set():
            parts += [to_16k(*load_utterance(u)), silence(gap_s)]
    except OSError:
        parts = []
        for text in COURT_SENTENCES:
            parts += [to_16k(*synthesize(text)), silence(gap_s)]
    once = np.concatenate([silence(0.5), *parts])
    repeats = max(1, int(np.ceil(seconds * SAMPLE_RATE / once.size)))
    return np.tile(once, repeats)


def microphone(speaks: bool, seconds: float, dtx: bool = True) -> CountedAudio:
    """Real speech for ``seconds`` (then silence) for a speaker, silence otherwise."""
    samples = speech_samples(seconds) if speaks else silence(0.1)
    return CountedAudio(SpeechTrack(samples, SAMPLE_RATE), dtx=dtx)
