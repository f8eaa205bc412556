"""Encoded test input for the recorder: colour/tone sequences encoded with PyAV (libvpx,
libx264, libopus, aac) into packets, replayed as EncodedFrame with RTP-style timestamps.

PyAV is used here only to CREATE input; what the recorder writes is checked with ffprobe.
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from hearing_server.media.taps import EncodedFrame

VIDEO_RATE = 90000
AUDIO_RATE = 48000


@dataclass(frozen=True)
class EncodedTrack:
    codec: str  # MIME as the router reports it
    clock_rate: int
    packets: tuple[tuple[bytes, int, bool], ...]  # payload, pts in clock ticks, keyframe

    @property
    def kind(self) -> str:
        return self.codec.split("/")[0]


@functools.cache
def encode_video(
    codec: str = "vp8",
    seconds: float = 25.0,
    fps: int = 15,
    width: int = 320,
    height: int = 240,
    gop_seconds: float = 3.0,
    resize_at: float | None = None,
) -> EncodedTrack:
    """A colour that changes every second with a moving bar; a keyframe every
    ``gop_seconds``. ``resize_at``: from then on the picture is 160x120."""
    name = {"vp8": "libvpx", "h264": "libx264"}[codec]
    n = round(seconds * fps)
    gop = max(1, round(gop_seconds * fps))
    out: list[tuple[bytes, int, bool]] = []
    ctx = None
    cur = None
    for i in range(n):
        t = i / fps
        size = (160, 120) if resize_at is not None and t >= resize_at else (width, height)
        if ctx is None or size != cur:
            if ctx is not None:
                out.extend(_drain(ctx))
            ctx = _video_encoder(name, *size, fps, gop)
            cur = size
        w, h = size
        img = np.zeros((h, w, 3), np.uint8)
        img[:, :] = ((int(t) * 70) % 256, (int(t) * 130 + 60) % 256, (int(t) * 190 + 120) % 256)
        x = (i * 4) % w
        img[:, x : x + 8] = 255
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = round(t * VIDEO_RATE)
        frame.time_base = fractions.Fraction(1, VIDEO_RATE)
        out.extend((bytes(p), p.pts, bool(p.is_keyframe)) for p in ctx.encode(frame))
    assert ctx is not None
    out.extend(_drain(ctx))
    mime = {"vp8": "video/VP8", "h264": "video/H264"}[codec]
    return EncodedTrack(mime, VIDEO_RATE, tuple(out))


def _video_encoder(name: str, width: int, height: int, fps: int, gop: int) -> Any:
    ctx = av.CodecContext.create(name, "w")
    ctx.width, ctx.height = width, height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = fractions.Fraction(1, VIDEO_RATE)
    ctx.framerate = fps
    ctx.gop_size = gop
    if name == "libx264":
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "bf": "0", "sc_threshold": "0"}
    else:
        ctx.options = {
            "deadline": "realtime", "cpu-used": "16", "lag-in-frames": "0", "threads": "1",
        }  # fmt: skip
    return ctx


def _drain(ctx: Any) -> list[tuple[bytes, int, bool]]:
    return [(bytes(p), p.pts, bool(p.is_keyframe)) for p in ctx.encode(None)]


@functools.cache
def encode_audio(
    codec: str = "opus", seconds: float = 25.0, frequency: float = 440.0, channels: int = 1
) -> EncodedTrack:
    """A sine tone: Opus in 20 ms packets (WebRTC-like), or raw AAC-LC."""
    name = "libopus" if codec == "opus" else "aac"
    layout = "stereo" if channels == 2 else "mono"
    ctx = av.CodecContext.create(name, "w")
    ctx.sample_rate = AUDIO_RATE
    ctx.layout = layout
    ctx.format = "s16" if codec == "opus" else "fltp"
    ctx.time_base = fractions.Fraction(1, AUDIO_RATE)
    if codec == "opus":
        ctx.options = {"frame_duration": "20", "application": "voip"}
    size = 960 if codec == "opus" else 1024
    out: list[tuple[bytes, int, bool]] = []
    for i in range(round(seconds * AUDIO_RATE / size)):
        idx = np.arange(size) + i * size
        wave = 0.3 * np.sin(2 * np.pi * frequency * idx / AUDIO_RATE)
        if codec == "opus":
            pcm = (np.repeat(wave, channels) * 32767).astype(np.int16).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
        else:
            frame = av.AudioFrame.from_ndarray(
                np.stack([wave] * channels).astype(np.float32), format="fltp", layout=layout
            )
        frame.sample_rate = AUDIO_RATE
        frame.pts = i * size
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        out.extend((bytes(p), p.pts, True) for p in ctx.encode(frame))
    out.extend((bytes(p), p.pts, True) for p in ctx.encode(None))
    # WebRTC has no encoder delay: start the stream at 0.
    first = out[0][1]
    mime = "audio/opus" if codec == "opus" else "audio/aac"
    return EncodedTrack(mime, AUDIO_RATE, tuple((d, pts - first, k) for d, pts, k in out))


def as_frames(
    track: EncodedTrack,
    *,
    pid: str,
    mono_start: float,
    offset: float = 0.0,
    rtp_base: int = 3_000_000_000,
    skip: Iterable[int] = (),
) -> list[EncodedFrame]:
    """The track as EncodedFrames: ``rtp_timestamp = rtp_base + pts`` (unwrapped) and
    arrival on the hearing clock at ``offset + pts/clock_rate``. ``skip``: packet indexes
    to leave out."""
    skipped = set(skip)
    kind = track.kind
    return [
        EncodedFrame(
            pid=pid,
            track_id=f"{pid}-{kind}",
            kind=kind,  # type: ignore[arg-type]
            codec=track.codec,
            payload=payload,
            rtp_timestamp=rtp_base + pts,
            clock_rate=track.clock_rate,
            keyframe=key,
            arrival=mono_start + offset + pts / track.clock_rate,
        )
        for i, (payload, pts, key) in enumerate(track.packets)
        if i not in skipped
    ]


class FrameSource:
    """An async iterator of frames, like a Tap: ``dropped``, ``close()``, ``limit``.

    ``realtime``: yield each frame when the monotonic clock reaches its arrival time.
    Otherwise as fast as possible, yielding to the loop every ``batch`` frames.
    """

    def __init__(
        self,
        frames: list[EncodedFrame],
        *,
        realtime: bool = False,
        batch: int = 20,
        drops: dict[int, int] | None = None,
    ) -> None:
        self._frames = frames
        self._drops = drops or {}  # before yielding frame i: count n more frames as dropped
        self._realtime = realtime
        self._batch = batch
        self.dropped = 0
        self.closed = False
        self.yielded = 0
        self.limit: int | None = None  # yield no more than this many frames until released
        self._released = asyncio.Event()

        self.peers: list[FrameSource] = []

    @property
    def exhausted(self) -> bool:
        return self.closed or self.yielded >= len(self._frames)

    @property
    def next_arrival(self) -> float:
        return float("inf") if self.exhausted else self._frames[self.yielded].arrival

    def __aiter__(self) -> FrameSource:
        return self

    async def __anext__(self) -> EncodedFrame:
        if self.exhausted:
            raise StopAsyncIteration
        frame = self._frames[self.yielded]
        # Sources fed together (the composite's video and audio) interleave by arrival.
        while any(p.next_arrival < frame.arrival for p in self.peers):  # noqa: ASYNC110
            await asyncio.sleep(0)
        while self.limit is not None and self.yielded >= self.limit:
            self._released.clear()
            await self._released.wait()
        if self._realtime:
            delay = frame.arrival - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        elif self.yielded % self._batch == 0:
            await asyncio.sleep(0)
        self.dropped += self._drops.get(self.yielded, 0)
        self.yielded += 1
        return frame

    def release(self, limit: int | None = None) -> None:
        """Allow frames up to ``limit`` (None: all of them)."""
        self.limit = limit
        self._released.set()

    def close(self) -> None:
        self.closed = True
        self._released.set()


def paced(*sources: FrameSource) -> tuple[FrameSource, ...]:
    """Make sources yield in arrival order relative to each other."""
    for src in sources:
        src.peers = [p for p in sources if p is not src]
    return sources


async def drain_source(source: AsyncIterator[EncodedFrame]) -> None:
    async for _ in source:
        pass


# -- ffprobe (independent of PyAV) ---------------------------------------------------------


def ffprobe(path: Path) -> dict[str, Any]:
    """Format and streams as ffprobe reports them; fails the test if ffprobe cannot read."""
    proc = subprocess.run(
        [
            "ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, f"ffprobe cannot read {path}: {proc.stderr}"
    return json.loads(proc.stdout)


def ffprobe_packets(path: Path, stream: str = "v:0") -> list[dict[str, Any]]:
    proc = subprocess.run(
        [
            "ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
            "packet=pts_time,flags,size", "-of", "json", str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["packets"]


def decoded_seconds(path: Path) -> float:
    """How long the file's audio lasts when decoded plainly, packet after packet, as most
    players do (no resampling to timestamps)."""
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", "48000", "-"],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return len(proc.stdout) / 2 / 48000


def ffmpeg_decodes(path: Path) -> str:
    """Decode the whole file with the ffmpeg CLI; returns its error output ('' = clean)."""
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"ffmpeg cannot decode {path}: {proc.stderr}"
    return proc.stderr
