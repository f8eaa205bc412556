"""What a track recorder knows, kept on its thread: per input, the codec, the timing (RTP
timestamps placed on the hearing clock) and the counts; per open segment, its bookkeeping;
per outage (a run of write failures), what was lost.

Nothing here does I/O or talks to anyone: the segmenter (``segmenter.py``) decides, the writer
(``writer.py``) writes, and both keep their facts in these objects. Not thread-safe: one
recorder thread owns them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import codecs
from .clock import HearingClock
from .frames import EncodedFrameLike
from .segments import SegmentFile, StreamSpec

_JUMP_SECONDS = 5.0  # RTP time running ahead of arrival time by more than this: a jump
_DEFAULT_VIDEO_RATE = 30


@dataclass(slots=True)
class Packet:
    t: int  # hearing-clock ticks (1/clock_rate)
    payload: bytes
    keyframe: bool
    duration: int = 0


@dataclass(slots=True)
class InputState:
    """One input of a track recorder (a participant track has one; the composite two)."""

    index: int
    kind: str  # audio | video
    codec: str | None = None
    clock_rate: int = 0
    first_rtp: int | None = None
    anchor: int = 0
    shift: int = 0
    last_rtp: int = 0
    last_arrival: float = 0.0
    last_t: int = 0
    dims: codecs.Dimensions | None = None
    channels: int = 2
    sps: bytes | None = None
    pps: bytes | None = None
    pending: Packet | None = None
    last_interval: int = 0
    tap_dropped: int = 0
    overflow_seen: int = 0
    need_keyframe: bool = False
    unsupported: bool = False
    received: int = 0
    written: int = 0
    lost: int = 0
    paused: int = 0
    before_keyframe: int = 0
    discontinuities: int = 0

    @property
    def ready(self) -> bool:
        return self.codec is not None and not self.unsupported

    def spec(self) -> StreamSpec:
        assert self.codec is not None
        if self.kind == "video":
            dims = self.dims or codecs.Dimensions(640, 480)
            return StreamSpec(self.codec, self.clock_rate, dims.width, dims.height)
        return StreamSpec(self.codec, self.clock_rate, channels=self.channels)

    def start(self, frame: EncodedFrameLike) -> bool:
        """Learn the codec from the input's first frame. False (and marked unsupported)
        when this input cannot be recorded: a codec of the wrong kind, or no clock rate."""
        self.codec = codecs.normalise_codec(frame.codec)
        self.clock_rate = frame.clock_rate
        kind_ok = (self.kind == "video" and self.codec in codecs.VIDEO_CODECS) or (
            self.kind == "audio" and self.codec in codecs.AUDIO_CODECS
        )
        if frame.clock_rate <= 0 or not kind_ok:
            self.unsupported = True
            return False
        if self.codec == codecs.OPUS:
            self.channels = codecs.opus_channels(frame.payload)
        # A packet's duration when nothing tells it: the last video packet before a pause
        # or stop, or an audio packet whose codec does not say.
        self.last_interval = (
            self.clock_rate // _DEFAULT_VIDEO_RATE
            if self.kind == "video"
            else (codecs.opus_packet_samples(frame.payload) or 960) * self.clock_rate // 48000
        )
        return True

    def place(self, frame: EncodedFrameLike, clock: HearingClock) -> tuple[int, int | None]:
        """The frame's time on the hearing clock, in this input's clock ticks; and, when
        the RTP timestamp jumped and the frame was re-anchored on its arrival time instead,
        the jump in RTP ticks (else None)."""
        rate = self.clock_rate
        rtp = frame.rtp_timestamp
        if self.first_rtp is None:
            self.first_rtp = rtp
            self.anchor = round(clock.offset(frame.arrival) * rate)
            self.last_rtp, self.last_arrival, self.last_t = rtp, frame.arrival, self.anchor
            return self.anchor, None
        d_rtp = rtp - self.last_rtp
        d_arrival = max(0.0, frame.arrival - self.last_arrival)
        jump: int | None = None
        if d_rtp <= 0 or d_rtp / rate > d_arrival + _JUMP_SECONDS:
            step = max(1, round(min(d_arrival, _JUMP_SECONDS) * rate))
            t = self.last_t + step
            self.shift = t - self.anchor - (rtp - self.first_rtp)
            self.discontinuities += 1
            jump = d_rtp
        else:
            t = self.anchor + (rtp - self.first_rtp) + self.shift
        self.last_rtp, self.last_arrival, self.last_t = rtp, frame.arrival, t
        return t, jump

    def learn_video(self, payload: bytes) -> None:
        """Keep what a keyframe tells: H.264 parameter sets (re-sent with later keyframes
        that lack them) and the picture size (a change cuts the segment)."""
        if self.codec == codecs.H264:
            sps, pps = codecs.h264_parameter_sets(payload)
            self.sps = sps or self.sps
            self.pps = pps or self.pps
            dims = codecs.h264_sps_dimensions(self.sps) if self.sps else None
        else:
            dims = codecs.dimensions(self.codec or "", payload)
        if dims is not None:
            self.dims = dims

    def audio_duration(self, payload: bytes) -> int:
        """An audio packet's duration in ticks, from the packet where the codec says it."""
        if self.codec == codecs.OPUS:
            samples = codecs.opus_packet_samples(payload)
            if samples:
                return samples * self.clock_rate // 48000
        elif self.codec == codecs.AAC:
            return 1024
        return self.last_interval


@dataclass(slots=True)
class OpenSegment:
    """The segment being written, and what its manifest entry will say."""

    file: SegmentFile
    index: int
    start_s: float  # hearing clock
    start_ticks: dict[int, int]  # input index -> hearing ticks at the segment's start
    stream_of: dict[int, int]  # input index -> stream index in the file
    dims: codecs.Dimensions | None
    starts_with_keyframe: bool
    end_ticks: dict[int, int] = field(default_factory=dict)  # relative to start, per input
    packets: dict[int, int] = field(default_factory=dict)
    silence: dict[int, int] = field(default_factory=dict)  # filler packets in DTX pauses
    notes: list[str] = field(default_factory=list)
    lost: int = 0
    extended_noted: bool = False
    keyframe_requested: bool = False


@dataclass(slots=True)
class Outage:
    """Writing has been failing since ``start_s``: what is lost until it works again."""

    start_s: float
    first_error: str
    frames: int = 0
    failures: int = 0
    last_alert: float = 0.0
