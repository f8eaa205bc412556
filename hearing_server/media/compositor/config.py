"""The compositor's settings (``CompositorConfig``), counters (``CompositorStats``), what a
composed tile showed (``TileState``) and the codec constants of its output."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Literal

from .layout import Layout, Rect

VIDEO_CLOCK = 90_000
VIDEO_CODEC = "video/H264"
AUDIO_CODEC = "audio/opus"
H264_PROFILE_LEVEL_ID = "42c01f"  # constrained baseline, level 3.1 (what libx264 emits)

TileKind = Literal["video", "name_card", "frozen", "exhibit"]


@dataclass(frozen=True, slots=True)
class CompositorConfig:
    """Settings of one composite. The canvas is always 1280x720."""

    pid: str = "composite"  # the pid in every EncodedFrame (the server source's id)
    fps: int = 25  # 25..30
    layout: Layout = Layout.JUDGE_FOCUS
    case_number: str = ""
    court: str = ""
    title: str = ""
    clock_tz: tzinfo | None = None  # None: the server's local time
    frozen_after_s: float = 2.0  # no new frame for this long: "video interrupted"
    video_bitrate: int = 2_500_000  # bits/s, with a VBV of half a second
    # superfast: ~10 ms of CPU per 720p frame here against 12-17 ms for veryfast, at the
    # same bitrate for 0.1 dB less PSNR (docs/performance.md)
    x264_preset: str = "superfast"
    # 1: no slice threads; the encoder thread runs beside the composer (0: libx264 decides)
    x264_threads: int = 1
    keyframe_interval_s: float = 2.0
    min_keyframe_gap_s: float = 0.25  # on-demand keyframes no closer than this
    audio_bitrate: int = 48_000
    font_path: str | None = None  # default: the first installed CJK font (wqy-zenhei)

    def __post_init__(self) -> None:
        if not 25 <= self.fps <= 30:
            raise ValueError("fps must be between 25 and 30")
        object.__setattr__(self, "layout", Layout(self.layout))
        if self.frozen_after_s <= 0 or self.keyframe_interval_s <= 0:
            raise ValueError("frozen_after_s and keyframe_interval_s must be positive")


@dataclass(slots=True)
class CompositorStats:
    video_frames_out: int = 0
    video_frames_dropped: int = 0  # output ticks skipped because composition fell behind
    video_bytes_out: int = 0
    keyframes_out: int = 0
    audio_packets_out: int = 0
    audio_blocks_dropped: int = 0
    audio_underruns: int = 0  # input blocks padded with silence
    audio_limited_blocks: int = 0  # mix blocks the limiter turned down
    errors: int = 0
    idle: bool = False  # nobody sends anything: one frame a second
    compose_ms: float = 0.0  # moving averages of the video thread's per-frame work
    encode_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class TileState:
    """What the last composed frame showed for one participant."""

    pid: str
    rect: Rect  # the tile
    video_rect: Rect | None  # where the video went inside it (None for a name card)
    kind: TileKind
    focus: bool
    speaker: bool
