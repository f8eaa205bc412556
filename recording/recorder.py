"""A track recorder: one worker thread that remuxes one track's encoded frames into segments.

The event loop only hands frames over (``offer``, never blocking: a bounded queue, overflow
counted); the thread does all muxing, hashing and file I/O. One recorder writes either one
participant track (one input) or the composite (video input 0 leads, audio input 1 follows).

Segments: audio is cut on time; video at the first keyframe at or after the segment length
(a keyframe is requested shortly before, when the caller gave a way to ask), or earlier when
the picture size changes. Without keyframes a video segment keeps growing, and its manifest
entry says so.

Timestamps: each input's frames are placed on the hearing clock by their RTP timestamps,
relative to the input's first frame, whose arrival fixes the input's start offset. A jump
the arrival times do not explain (the RTP clock going backwards, or leaping ahead) is
re-anchored on arrival time and noted. In the file, packet times count from the segment's
start, which the manifest records on the hearing clock.

Failures (open, write, close): the segment is given up (what was written is kept as an
incomplete segment if the file can still be hashed), an alert goes out, and the recorder
retries on a later frame after a backoff (doubling up to ``retry_max``). Every frame that
did not make it into a file is counted, and the outage is written to the manifest as a
``loss`` entry when writing works again.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import codecs
from .alerts import AlertKind, RecordingAlert
from .clock import HearingClock, iso, to_us
from .manifest import (
    AfterWriteError,
    EntryType,
    ManifestError,
    ManifestWriter,
    SignatureError,
    fsync_dir,
    sha256_file,
)
from .segments import SegmentFile, SegmentWriteError, StreamSpec, choose_container

if TYPE_CHECKING:
    from hearing_server.media.taps import EncodedFrame

log = logging.getLogger(__name__)

_JUMP_SECONDS = 5.0  # RTP time running ahead of arrival time by more than this: a jump
_FOLLOWER_HOLD_SECONDS = 2.0  # composite audio waits at most this long for video to pass it
_DEFAULT_VIDEO_RATE = 30
_START_HOLD_SECONDS = 1.0  # the composite's first segment waits this long for its audio


@dataclass(frozen=True, slots=True)
class RecordingOptions:
    """Tunables of a recording (defaults suit a hearing; tests shorten them)."""

    segment_seconds: float = 10.0
    queue_frames: int = 2000  # per track; at 50 audio packets/s that is 40 s of backlog
    retry_initial: float = 1.0  # first backoff after a failure, doubled each time
    retry_max: float = 30.0
    alert_repeat_seconds: float = 30.0  # while still failing, alert again at most this often
    keyframe_request_lead: float = 1.0  # ask for a keyframe this long before a cut is due
    keyframe_request_interval: float = 2.0  # and at most this often
    no_keyframe_note_seconds: float = 5.0  # note a video segment this far past its length

    def __post_init__(self) -> None:
        if self.segment_seconds <= 0 or self.queue_frames < 1:
            raise ValueError("segment_seconds and queue_frames must be positive")
        if self.retry_initial <= 0 or self.retry_max < self.retry_initial:
            raise ValueError("need 0 < retry_initial <= retry_max")


@dataclass(frozen=True, slots=True)
class TrackIdentity:
    """Who a recorded track belongs to. ``kind``: audio, video or composite."""

    key: str  # unique in the recording; also the track's directory name
    pid: str
    kind: str
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class TrackStats:
    """Counts a recorder reports when it ends (also in its ``track_ended`` entry)."""

    frames_received: int
    frames_written: int
    frames_lost: int  # should have been recorded, were not (drops, failures)
    frames_paused: int  # arrived while the recording was paused (not lost)
    frames_before_keyframe: int  # video before the first decodable keyframe (not lost)
    segments: int
    incomplete_segments: int
    discontinuities: int

    def to_dict(self) -> dict[str, int]:
        return {
            "frames_received": self.frames_received,
            "frames_written": self.frames_written,
            "frames_lost": self.frames_lost,
            "frames_paused": self.frames_paused,
            "frames_before_keyframe": self.frames_before_keyframe,
            "segments": self.segments,
            "incomplete_segments": self.incomplete_segments,
            "discontinuities": self.discontinuities,
        }


# -- messages from the event loop to the thread ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _FrameMsg:
    index: int
    frame: EncodedFrame
    tap_dropped: int
    overflow: int


@dataclass(frozen=True, slots=True)
class _CommandMsg:
    name: str  # pause | resume | stop
    reason: str
    done: concurrent.futures.Future[TrackStats | None]


# -- thread-side state ---------------------------------------------------------------------


@dataclass(slots=True)
class _Packet:
    t: int  # hearing-clock ticks (1/clock_rate)
    payload: bytes
    keyframe: bool
    duration: int = 0


@dataclass(slots=True)
class _Input:
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
    pending: _Packet | None = None
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


@dataclass(slots=True)
class _Segment:
    file: SegmentFile
    index: int
    start_s: float  # hearing clock
    start_ticks: dict[int, int]  # input index -> hearing ticks at the segment's start
    stream_of: dict[int, int]  # input index -> stream index in the file
    dims: codecs.Dimensions | None
    starts_with_keyframe: bool
    end_ticks: dict[int, int] = field(default_factory=dict)  # relative to start, per input
    packets: dict[int, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lost: int = 0
    extended_noted: bool = False
    keyframe_requested: bool = False


@dataclass(slots=True)
class _Outage:
    start_s: float
    first_error: str
    frames: int = 0
    failures: int = 0
    last_alert: float = 0.0


class TrackRecorder:
    """Records one track (or the composite) of a recording into segments.

    Loop side: :meth:`start`, :meth:`offer` (never blocks), :meth:`command`. Everything
    else runs on the recorder's own thread. ``emit`` and ``request_keyframe`` are called
    from that thread and must be thread-safe (the session wraps them).
    """

    def __init__(
        self,
        identity: TrackIdentity,
        input_kinds: list[str],
        *,
        directory: Path,
        manifest: ManifestWriter,
        clock: HearingClock,
        options: RecordingOptions,
        emit: Callable[[RecordingAlert], None],
        request_keyframe: Callable[[], None] | None = None,
        paused: bool = False,
    ) -> None:
        self.identity = identity
        self._dir = directory
        self._manifest = manifest
        self._clock = clock
        self._opts = options
        self._emit = emit
        self._request_keyframe = request_keyframe
        self._inputs = [_Input(i, k) for i, k in enumerate(input_kinds)]
        self._lead = next((i for i, k in enumerate(input_kinds) if k == "video"), 0)
        self._queue: queue.Queue[_FrameMsg | _CommandMsg] = queue.Queue()
        self._overflow = [0] * len(input_kinds)
        self._overflow_alerted = -1e18
        self._thread = threading.Thread(
            target=self._run, name=f"recorder-{identity.key}", daemon=True
        )
        # thread-side
        self._paused = paused
        self._segment: _Segment | None = None
        self._next_index = 1
        self._followers: deque[tuple[_Input, _Packet]] = deque()
        self._failed_until: float | None = None
        self._consecutive_failures = 0
        self._outage: _Outage | None = None
        self._last_keyframe_request = -1e18
        self._segments = 0
        self._incomplete = 0
        self._stopped = False
        # The composite's first segment waits briefly for every input to show up.
        self._held: list[tuple[_Input, int, bytes, bool, float]] = []
        self._hold_done = len(input_kinds) == 1

    # -- loop side ------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def offer(self, index: int, frame: EncodedFrame, tap_dropped: int = 0) -> bool:
        """Queue one frame for the thread; False (and counted as lost) when the queue is
        full. Never blocks."""
        if self._queue.qsize() >= self._opts.queue_frames:
            self._overflow[index] += 1
            now = time.monotonic()
            if now - self._overflow_alerted >= self._opts.alert_repeat_seconds:
                self._overflow_alerted = now
                self._alert(
                    AlertKind.FRAMES_DROPPED,
                    f"Recording of {self._who()} is falling behind: frames are being dropped "
                    f"({sum(self._overflow)} so far).",
                    lost_frames=sum(self._overflow),
                )
            return False
        self._queue.put_nowait(_FrameMsg(index, frame, tap_dropped, self._overflow[index]))
        return True

    def command(self, name: str, reason: str = "") -> concurrent.futures.Future[TrackStats | None]:
        """``pause`` / ``resume`` / ``stop``: done when the thread has carried it out (for
        ``stop``, with the track's stats once its last segment is finished)."""
        done: concurrent.futures.Future[TrackStats | None] = concurrent.futures.Future()
        if self._stopped or not self._thread.is_alive():
            done.set_result(None)
            return done
        self._queue.put_nowait(_CommandMsg(name, reason, done))
        return done

    @property
    def overflow(self) -> int:
        return sum(self._overflow)

    # -- thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            msg = self._queue.get()
            if isinstance(msg, _FrameMsg):
                try:
                    self._on_frame(msg)
                except Exception as exc:  # a bug must not stop the record: fail, retry
                    log.exception("recorder %s: unexpected error", self.identity.key)
                    self._fail(exc, msg.frame.arrival)
                continue
            try:
                result = self._on_command(msg)
            except Exception as exc:
                log.exception("recorder %s: %s failed", self.identity.key, msg.name)
                msg.done.set_exception(exc)
                result = None
            else:
                msg.done.set_result(result)
            if msg.name == "stop":
                self._stopped = True
                self._drain_after_stop()
                return

    def _drain_after_stop(self) -> None:
        while True:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(msg, _CommandMsg):
                msg.done.set_result(None)

    def _on_command(self, msg: _CommandMsg) -> TrackStats | None:
        now = time.monotonic()
        if self._held:
            self._held[0] = (*self._held[0][:4], -1e18)  # stop waiting: write what is held
            self._release_held(now)
        if msg.name == "pause":
            self._finish_segment(now)
            self._paused = True
            return None
        if msg.name == "resume":
            self._paused = False
            for st in self._inputs:
                st.pending = None
            self._want_keyframe(now, force=True)
            return None
        if msg.name == "stop":
            for st in self._inputs:  # frames dropped after the last one that got through
                late = self._overflow[st.index] - st.overflow_seen
                if late > 0:
                    st.overflow_seen += late
                    self._count_lost(st, late)
            self._finish_segment(now)
            if self._outage is not None:
                self._close_outage(self._clock.offset(now), recovered=False)
            stats = self._stats()
            data: dict[str, Any] = {**self._track_data(), "reason": msg.reason or "stopped"}
            data.update(stats.to_dict())
            self._append(EntryType.TRACK_ENDED, data)
            return stats
        raise ValueError(f"unknown recorder command {msg.name!r}")

    def _on_frame(self, msg: _FrameMsg) -> None:
        st = self._inputs[msg.index]
        frame = msg.frame
        now = frame.arrival
        st.received += 1
        lost_upstream = max(0, msg.tap_dropped - st.tap_dropped)
        lost_overflow = max(0, msg.overflow - st.overflow_seen)
        st.tap_dropped = max(st.tap_dropped, msg.tap_dropped)
        st.overflow_seen = max(st.overflow_seen, msg.overflow)
        if lost_upstream or lost_overflow:
            self._count_lost(st, lost_upstream + lost_overflow)
            if st.kind == "video":
                st.need_keyframe = True  # what follows a lost frame cannot be decoded
                self._want_keyframe(now, force=True)
            if lost_upstream and self._segment is not None:
                self._segment.notes.append(f"{lost_upstream} frames dropped before the recorder")

        if st.codec is None:
            self._first_frame(st, frame)
        if st.unsupported:
            st.lost += 1
            return
        t = self._ticks(st, frame)
        if self._paused:
            st.paused += 1
            return

        payload = frame.payload
        key = codecs.is_keyframe(st.codec or "", payload, frame.keyframe)
        if st.kind == "video":
            if key:
                self._learn_video(st, payload)
                if st.codec == codecs.H264:
                    payload = codecs.h264_with_parameter_sets(payload, st.sps, st.pps)
            if st.need_keyframe:
                if not key:
                    self._count_lost(st, 1)
                    self._want_keyframe(now)
                    return
                st.need_keyframe = False
        if st.index == self._lead:
            self._lead_frame(st, t, payload, key, now)
        else:
            self._follower_frame(st, t, payload, now)

    # -- timing ---------------------------------------------------------------------

    def _first_frame(self, st: _Input, frame: EncodedFrame) -> None:
        st.codec = codecs.normalise_codec(frame.codec)
        st.clock_rate = frame.clock_rate
        kind_ok = (st.kind == "video" and st.codec in codecs.VIDEO_CODECS) or (
            st.kind == "audio" and st.codec in codecs.AUDIO_CODECS
        )
        if frame.clock_rate <= 0 or not kind_ok:
            st.unsupported = True
            self._alert(
                AlertKind.TRACK_FAILED,
                f"Cannot record {self._who()}: unsupported {st.kind} codec {frame.codec!r}.",
                error=f"unsupported codec {frame.codec!r} at clock rate {frame.clock_rate}",
            )
            return
        if st.codec == codecs.OPUS:
            st.channels = codecs.opus_channels(frame.payload)
        st.last_interval = (
            st.clock_rate // _DEFAULT_VIDEO_RATE
            if st.kind == "video"
            else (codecs.opus_packet_samples(frame.payload) or 960) * st.clock_rate // 48000
        )
        offset = self._clock.offset(frame.arrival)
        data = {
            **self._track_data(),
            "stream": st.index,
            "stream_kind": st.kind,
            "codec": st.codec,
            "clock_rate": st.clock_rate,
            "start_offset_us": to_us(offset),
            "start_at": iso(self._clock.wall(offset)),
            "first_rtp_timestamp": frame.rtp_timestamp,
        }
        self._append(EntryType.TRACK_STARTED, data)

    def _ticks(self, st: _Input, frame: EncodedFrame) -> int:
        """The frame's time on the hearing clock, in its clock's ticks."""
        rate = st.clock_rate
        rtp = frame.rtp_timestamp
        if st.first_rtp is None:
            st.first_rtp = rtp
            st.anchor = round(self._clock.offset(frame.arrival) * rate)
            st.last_rtp, st.last_arrival, st.last_t = rtp, frame.arrival, st.anchor
            return st.anchor
        d_rtp = rtp - st.last_rtp
        d_arrival = max(0.0, frame.arrival - st.last_arrival)
        if d_rtp <= 0 or d_rtp / rate > d_arrival + _JUMP_SECONDS:
            step = max(1, round(min(d_arrival, _JUMP_SECONDS) * rate))
            t = st.last_t + step
            st.shift = t - st.anchor - (rtp - st.first_rtp)
            st.discontinuities += 1
            if self._segment is not None:
                self._segment.notes.append(
                    f"stream {st.index}: RTP timestamp jumped by {d_rtp} ticks; "
                    "re-anchored on arrival time"
                )
        else:
            t = st.anchor + (rtp - st.first_rtp) + st.shift
        st.last_rtp, st.last_arrival, st.last_t = rtp, frame.arrival, t
        return t

    def _learn_video(self, st: _Input, payload: bytes) -> None:
        if st.codec == codecs.H264:
            sps, pps = codecs.h264_parameter_sets(payload)
            st.sps = sps or st.sps
            st.pps = pps or st.pps
            dims = codecs.h264_sps_dimensions(st.sps) if st.sps else None
        else:
            dims = codecs.dimensions(st.codec or "", payload)
        if dims is not None:
            st.dims = dims

    # -- the lead input decides the cuts ------------------------------------------------

    def _lead_frame(self, st: _Input, t: int, payload: bytes, key: bool, now: float) -> None:
        if self._failed_until is not None and now < self._failed_until:
            self._count_lost(st, 1)
            return
        seg = self._segment
        rate = st.clock_rate
        if seg is None and not self._hold_done and (key or st.kind != "video" or self._held):
            self._held.append((st, t, payload, key, now))
            self._release_held(now)
            return
        if seg is None:
            if st.kind == "video" and not key:
                if self._outage is not None:
                    self._count_lost(st, 1)
                else:
                    st.before_keyframe += 1
                self._want_keyframe(now)
                return
            if not self._open_segment(t / rate, key, now):
                self._count_lost(st, 1)
                return
        else:
            elapsed = (t - seg.start_ticks[st.index]) / rate
            seg_len = self._opts.segment_seconds
            cut = False
            if st.kind == "video":
                dims = st.dims
                resized = dims is not None and seg.dims is not None and dims != seg.dims
                # The composite's audio may start after its first segment did: it joins at
                # the next keyframe.
                joined = [s for s in self._inputs if s.ready and s.index not in seg.stream_of]
                if key and (elapsed >= seg_len or resized or joined):
                    cut = True
                    if resized and dims is not None:
                        seg.notes.append(
                            f"cut early: picture size changed to {dims.width}x{dims.height}"
                        )
                    if joined:
                        seg.notes.append("cut early: the audio stream started")
                elif joined:
                    self._want_keyframe(now)
                else:
                    if elapsed >= seg_len - self._opts.keyframe_request_lead and not (
                        seg.keyframe_requested
                    ):
                        seg.keyframe_requested = True
                        self._want_keyframe(now, force=True)
                    elif elapsed >= seg_len:
                        self._want_keyframe(now)
                    if (
                        elapsed >= seg_len + self._opts.no_keyframe_note_seconds
                        and not seg.extended_noted
                    ):
                        seg.extended_noted = True
                        seg.notes.append(
                            f"no keyframe {self._opts.no_keyframe_note_seconds:g} s after the "
                            "segment length; segment extended until the next keyframe"
                        )
            elif elapsed >= seg_len:
                cut = True
            if cut:
                self._flush_pending(st, t)
                self._flush_followers(before_s=t / rate)
                self._finish_segment(now, all_followers=False)
                if not self._open_segment(t / rate, key, now):
                    self._count_lost(st, 1)
                    return
        self._write_lead(st, _Packet(t, payload, key), now)
        self._flush_followers(upto_s=t / rate)

    def _write_lead(self, st: _Input, pkt: _Packet, now: float) -> None:
        if st.kind == "video":
            if st.pending is not None:
                interval = pkt.t - st.pending.t
                st.last_interval = min(max(interval, 1), st.clock_rate)
                st.pending.duration = max(interval, 1)
                if not self._write_packet(st, st.pending, now):
                    st.pending = None
                    self._count_lost(st, 1)
                    return
            st.pending = pkt
        else:
            pkt.duration = self._audio_duration(st, pkt.payload)
            self._write_packet(st, pkt, now)

    def _audio_duration(self, st: _Input, payload: bytes) -> int:
        if st.codec == codecs.OPUS:
            samples = codecs.opus_packet_samples(payload)
            if samples:
                return samples * st.clock_rate // 48000
        elif st.codec == codecs.AAC:
            return 1024
        return st.last_interval

    def _flush_pending(self, st: _Input, next_t: int | None = None) -> None:
        pkt = st.pending
        if pkt is None:
            return
        st.pending = None
        pkt.duration = max(1, next_t - pkt.t) if next_t is not None else st.last_interval
        if not self._write_packet(st, pkt, time.monotonic()):
            self._count_lost(st, 1)

    # -- the composite's audio follows ---------------------------------------------------

    def _release_held(self, now: float) -> None:
        """Start the first segment once every input has sent a frame, or after at most
        ``_START_HOLD_SECONDS`` (then the late input joins at a later keyframe)."""
        if not self._held:
            return
        waited = now - self._held[0][4]
        if any(st.codec is None for st in self._inputs) and waited < _START_HOLD_SECONDS:
            return
        held, self._held = self._held, []
        self._hold_done = True
        for st, t, payload, key, at in held:
            self._lead_frame(st, t, payload, key, at)

    def _follower_frame(self, st: _Input, t: int, payload: bytes, now: float) -> None:
        pkt = _Packet(t, payload, True, self._audio_duration(st, payload))
        self._followers.append((st, pkt))
        if self._held:
            self._release_held(now)
        if not self._followers:
            return
        first_st, first = self._followers[0]
        if t / st.clock_rate - first.t / first_st.clock_rate > _FOLLOWER_HOLD_SECONDS:
            # The video has stalled: do not hold the sound back any longer.
            self._flush_followers(upto_s=t / st.clock_rate - _FOLLOWER_HOLD_SECONDS)

    def _flush_followers(
        self, *, before_s: float | None = None, upto_s: float | None = None
    ) -> None:
        while self._followers:
            st, pkt = self._followers[0]
            when = pkt.t / st.clock_rate
            if before_s is not None and when >= before_s:
                return
            if upto_s is not None and when > upto_s:
                return
            self._followers.popleft()
            seg = self._segment
            if seg is None or st.index not in seg.stream_of:
                if self._outage is not None:
                    self._count_lost(st, 1)
                else:
                    st.before_keyframe += 1
                continue
            self._write_packet(st, pkt, time.monotonic())

    # -- segments -------------------------------------------------------------------

    def _open_segment(self, start_s: float, key: bool, now: float) -> bool:
        if self._failed_until is not None and now < self._failed_until:
            return False
        ready = [st for st in self._inputs if st.ready]
        specs = [st.spec() for st in ready]
        choice = choose_container(specs)
        index = self._next_index
        rel = f"{self.identity.key}/{index:05d}.{choice.extension}"
        try:
            file = SegmentFile(self._dir / rel, specs, choice)
        except SegmentWriteError as exc:
            self._fail(exc, now)
            return False
        self._next_index += 1
        lead = self._inputs[self._lead]
        self._segment = _Segment(
            file=file,
            index=index,
            start_s=start_s,
            start_ticks={st.index: round(start_s * st.clock_rate) for st in ready},
            stream_of={st.index: i for i, st in enumerate(ready)},
            dims=lead.dims if lead.kind == "video" else None,
            starts_with_keyframe=key,
        )
        self._failed_until = None
        return True

    def _write_packet(self, st: _Input, pkt: _Packet, now: float) -> bool:
        seg = self._segment
        if seg is None or st.index not in seg.stream_of:
            return False
        pts = pkt.t - seg.start_ticks[st.index]
        if pts < 0:  # from before the first segment, or after its own segment was closed
            if st.written == 0:
                st.before_keyframe += 1
            else:
                self._count_lost(st, 1)
            return True
        try:
            seg.file.write(seg.stream_of[st.index], pkt.payload, pts, pkt.duration, pkt.keyframe)
        except SegmentWriteError as exc:
            self._fail(exc, now)
            return False
        st.written += 1
        seg.packets[st.index] = seg.packets.get(st.index, 0) + 1
        seg.end_ticks[st.index] = max(seg.end_ticks.get(st.index, 0), pts + pkt.duration)
        if self._outage is not None:
            self._close_outage(seg.start_s, recovered=True)
        return True

    def _finish_segment(self, now: float, *, all_followers: bool = True) -> None:
        if self._segment is None:
            return
        for st in self._inputs:
            if st.kind == "video":
                self._flush_pending(st)
        if all_followers:
            self._flush_followers()
        seg = self._segment
        if seg is None:  # a write above failed
            return
        self._segment = None
        try:
            seg.file.close()
        except SegmentWriteError as exc:
            self._segment = seg
            self._fail(exc, now)
            return
        if seg.file.packets == 0:
            _remove_quietly(seg.file.part_path)
            return
        self._consecutive_failures = 0
        self._register(seg, complete=True)

    def _register(self, seg: _Segment, *, complete: bool, error: str | None = None) -> None:
        """Hash a closed segment and list it in the manifest; it gets its final name once
        the entry is durable."""
        part, final = seg.file.part_path, seg.file.final_path
        try:
            sha, size = sha256_file(part)
        except OSError as exc:
            self._alert(
                AlertKind.WRITE_FAILED,
                f"A segment of {self._who()} could not be read back to hash it; it is not "
                "part of the record.",
                error=str(exc),
            )
            return
        duration_s = max(
            (seg.end_ticks.get(i, 0) / self._inputs[i].clock_rate for i in seg.stream_of),
            default=0.0,
        )
        data: dict[str, Any] = {
            **self._track_data(),
            "index": seg.index,
            "file": final.relative_to(self._dir).as_posix(),
            "sha256": sha,
            "bytes": size,
            "start_us": to_us(seg.start_s),
            "start_at": iso(self._clock.wall(seg.start_s)),
            "duration_us": to_us(duration_s),
            "complete": complete,
            "starts_with_keyframe": seg.starts_with_keyframe,
            "streams": [
                {
                    "codec": self._inputs[i].codec,
                    "packets": seg.packets.get(i, 0),
                    "duration_us": to_us(seg.end_ticks.get(i, 0) / self._inputs[i].clock_rate),
                }
                for i in seg.stream_of
            ],
            "lost_frames": seg.lost,
            "notes": seg.notes,
        }
        if seg.dims is not None:
            data["width"], data["height"] = seg.dims.width, seg.dims.height
        if error is not None:
            data["error"] = error

        def rename() -> None:
            os.replace(part, final)
            fsync_dir(final.parent)

        self._segments += 1
        if not complete:
            self._incomplete += 1
        self._append(EntryType.SEGMENT, data, after=rename)

    def _fail(self, exc: BaseException, now: float) -> None:
        """Give up the open segment, alert, and schedule a retry."""
        seg = self._segment
        self._segment = None
        t_s = self._clock.offset(now)
        lost_here = 0
        for st in self._inputs:
            if st.pending is not None:
                st.pending = None
                st.lost += 1
                lost_here += 1
        if seg is not None:
            t_s = seg.start_s + max(
                (seg.end_ticks.get(i, 0) / self._inputs[i].clock_rate for i in seg.stream_of),
                default=0.0,
            )
            seg.file.abort()
            if seg.file.packets and seg.file.part_path.exists():
                seg.notes.append(f"incomplete: {exc}")
                self._register(seg, complete=False, error=str(exc))
            else:
                _remove_quietly(seg.file.part_path)
        self._consecutive_failures += 1
        backoff = min(
            self._opts.retry_initial * 2 ** (self._consecutive_failures - 1), self._opts.retry_max
        )
        self._failed_until = now + backoff
        first = self._outage is None
        if self._outage is None:
            self._outage = _Outage(start_s=t_s, first_error=str(exc))
        outage = self._outage
        outage.failures += 1
        outage.frames += lost_here
        if first or now - outage.last_alert >= self._opts.alert_repeat_seconds:
            outage.last_alert = now
            again = "" if first else f" (still failing, {outage.failures} attempts)"
            self._alert(
                AlertKind.WRITE_FAILED,
                f"Recording of {self._who()} failed{again}: {exc}. Retrying in {backoff:g} s.",
                error=str(exc),
                retry_in=backoff,
                lost_frames=outage.frames,
            )

    def _close_outage(self, end_s: float, *, recovered: bool) -> None:
        outage = self._outage
        if outage is None:
            return
        self._outage = None
        lost_s = max(0.0, end_s - outage.start_s)
        self._append(
            EntryType.LOSS,
            {
                **self._track_data(),
                "from_us": to_us(outage.start_s),
                "to_us": to_us(max(end_s, outage.start_s)),
                "frames": outage.frames,
                "failures": outage.failures,
                "reason": outage.first_error,
                "recovered": recovered,
            },
        )
        if recovered:
            self._alert(
                AlertKind.RECOVERED,
                f"Recording of {self._who()} works again; {lost_s:.1f} s "
                f"({outage.frames} frames) were lost.",
                lost_frames=outage.frames,
                lost_seconds=lost_s,
            )

    # -- helpers --------------------------------------------------------------------

    def _count_lost(self, st: _Input, n: int) -> None:
        st.lost += n
        if self._outage is not None:
            self._outage.frames += n
        elif self._segment is not None:
            self._segment.lost += n

    def _want_keyframe(self, now: float, *, force: bool = False) -> None:
        if self._request_keyframe is None or self._inputs[self._lead].kind != "video":
            return
        if not force and now - self._last_keyframe_request < self._opts.keyframe_request_interval:
            return
        self._last_keyframe_request = now
        try:
            self._request_keyframe()
        except Exception:
            log.exception("recorder %s: keyframe request failed", self.identity.key)

    def _append(
        self,
        entry_type: EntryType,
        data: dict[str, Any],
        after: Callable[[], None] | None = None,
    ) -> None:
        try:
            recovered = self._manifest.append(entry_type, data, after=after)
        except ManifestError as exc:
            self._alert(
                AlertKind.MANIFEST_FAILED,
                "The recording's manifest cannot be written; entries are kept and will be "
                f"written when possible: {exc}",
                error=str(exc),
                track=None,
                pid=None,
            )
        except AfterWriteError as exc:
            self._alert(
                AlertKind.WRITE_FAILED,
                f"A finished segment of {self._who()} could not be renamed: {exc}",
                error=str(exc),
            )
        except SignatureError as exc:
            self._alert(
                AlertKind.SIGN_FAILED, f"Checkpoint signature failed: {exc}", error=str(exc)
            )
        else:
            if recovered:
                self._alert(
                    AlertKind.RECOVERED,
                    "The recording's manifest can be written again; no entry was lost.",
                    track=None,
                    pid=None,
                )

    def _track_data(self) -> dict[str, Any]:
        ident = self.identity
        return {
            "track": ident.key,
            "pid": ident.pid,
            "kind": ident.kind,
            "name": ident.name,
            "role": ident.role,
        }

    def _stats(self) -> TrackStats:
        return TrackStats(
            frames_received=sum(st.received for st in self._inputs) + self.overflow,
            frames_written=sum(st.written for st in self._inputs),
            frames_lost=sum(st.lost for st in self._inputs),
            frames_paused=sum(st.paused for st in self._inputs),
            frames_before_keyframe=sum(st.before_keyframe for st in self._inputs),
            segments=self._segments,
            incomplete_segments=self._incomplete,
            discontinuities=sum(st.discontinuities for st in self._inputs),
        )

    def _who(self) -> str:
        ident = self.identity
        if ident.kind == "composite":
            return "the courtroom composite"
        return f"{ident.name} ({ident.role}, {ident.kind})"

    def _alert(self, kind: AlertKind, message: str, **fields: Any) -> None:
        alert = RecordingAlert(
            kind=kind,
            hearing_id=self._manifest.hearing_id,
            recording_id=self._manifest.recording_id,
            message=message,
            at=datetime.now(UTC),
            **{"track": self.identity.key, "pid": self.identity.pid, **fields},
        )
        try:
            self._emit(alert)
        except Exception:
            log.exception("recorder %s: cannot deliver alert %s", self.identity.key, kind)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
