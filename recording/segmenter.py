"""The thread side of a track recorder: where each frame goes and when a segment is cut.

Segments: audio is cut on time; video at the first keyframe at or after the segment length
(a keyframe is requested shortly before, when the caller gave a way to ask), or earlier when
the picture size changes. Without keyframes a video segment keeps growing, and its manifest
entry says so.

Timestamps: each input's frames are placed on the hearing clock by their RTP timestamps,
relative to the input's first frame, whose arrival fixes the input's start offset. A jump
the arrival times do not explain (the RTP clock going backwards, or leaping ahead) is
re-anchored on arrival time and noted. In the file, packet times count from the segment's
start, which the manifest records on the hearing clock.

The composite (video input 0 leads, audio input 1 follows): its audio waits until the
video has passed it, so the file's packets stay in time order, and its first segment waits
briefly for the audio to show up.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import codecs
from .alerts import AlertKind
from .clock import HearingClock, iso, to_us
from .frames import EncodedFrameLike
from .manifest import EntryType
from .model import RecordingOptions, TrackStats
from .reporting import TrackReporter
from .track_state import InputState, Packet
from .writer import SegmentWriter

log = logging.getLogger(__name__)

_FOLLOWER_HOLD_SECONDS = 2.0  # composite audio waits at most this long for video to pass it
_START_HOLD_SECONDS = 1.0  # the composite's first segment waits this long for its audio


class Segmenter:
    """Everything a track recorder does on its thread, one frame or command at a time.

    ``overflow`` is the recorder's per-input count of frames its full queue turned away,
    shared (not copied) because the event loop keeps counting while the thread reads it.
    The segmenter routes frames and decides the cuts; its :class:`SegmentWriter` writes the
    segments and handles write failures, and ``report`` writes the track's manifest entries
    and alerts.
    """

    def __init__(
        self,
        input_kinds: list[str],
        *,
        directory: Path,
        clock: HearingClock,
        options: RecordingOptions,
        report: TrackReporter,
        overflow: list[int],
        request_keyframe: Callable[[], None] | None,
        paused: bool,
    ) -> None:
        self._clock = clock
        self._opts = options
        self._report = report
        self._overflow = overflow
        self._request_keyframe = request_keyframe
        self._inputs = [InputState(i, k) for i, k in enumerate(input_kinds)]
        self._lead = next((i for i, k in enumerate(input_kinds) if k == "video"), 0)
        self._writer = SegmentWriter(
            self._inputs,
            lead=self._lead,
            directory=directory,
            clock=clock,
            options=options,
            report=report,
        )
        self._paused = paused
        self._followers: deque[tuple[InputState, Packet]] = deque()
        self._last_keyframe_request = -1e18
        # The composite's first segment waits briefly for every input to show up.
        self._held: list[tuple[InputState, int, bytes, bool, float]] = []
        self._hold_done = len(input_kinds) == 1

    # -- commands -------------------------------------------------------------------

    def stop_holding(self, now: float) -> None:
        """Any command ends the composite's wait for its audio: write what is held."""
        if self._held:
            self._held[0] = (*self._held[0][:4], -1e18)
            self._release_held(now)

    def pause(self, now: float) -> None:
        self._finish_segment(now)
        self._paused = True

    def resume(self, now: float) -> None:
        self._paused = False
        for st in self._inputs:
            st.pending = None
        self._want_keyframe(now, force=True)

    def stop(self, now: float, reason: str) -> TrackStats:
        """Finish the last segment and write the track's ``track_ended`` entry."""
        for st in self._inputs:  # frames dropped after the last one that got through
            late = self._overflow[st.index] - st.overflow_seen
            if late > 0:
                st.overflow_seen += late
                self._writer.count_lost(st, late)
        self._finish_segment(now)
        if self._writer.outage is not None:
            self._writer.close_outage(self._clock.offset(now), recovered=False)
        stats = self._stats()
        data: dict[str, Any] = {**self._report.track_data(), "reason": reason or "stopped"}
        data.update(stats.to_dict())
        self._report.append(EntryType.TRACK_ENDED, data)
        return stats

    def fail(self, exc: BaseException, now: float) -> None:
        """An unexpected error: handled like a write failure (give up, alert, retry)."""
        self._writer.fail(exc, now)

    # -- frames ---------------------------------------------------------------------

    def on_frame(
        self, index: int, frame: EncodedFrameLike, tap_dropped: int, overflow: int
    ) -> None:
        """One frame of input ``index``; ``tap_dropped`` and ``overflow`` are the drop
        counts (upstream, and the recorder's full queue) as they stood when it was queued."""
        st = self._inputs[index]
        now = frame.arrival
        st.received += 1
        lost_upstream = max(0, tap_dropped - st.tap_dropped)
        lost_overflow = max(0, overflow - st.overflow_seen)
        st.tap_dropped = max(st.tap_dropped, tap_dropped)
        st.overflow_seen = max(st.overflow_seen, overflow)
        if lost_upstream or lost_overflow:
            self._writer.count_lost(st, lost_upstream + lost_overflow)
            if st.kind == "video":
                st.need_keyframe = True  # what follows a lost frame cannot be decoded
                self._want_keyframe(now, force=True)
            if lost_upstream and self._writer.segment is not None:
                self._writer.segment.notes.append(
                    f"{lost_upstream} frames dropped before the recorder"
                )

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
                st.learn_video(payload)
                if st.codec == codecs.H264:
                    payload = codecs.h264_with_parameter_sets(payload, st.sps, st.pps)
            if st.need_keyframe:
                if not key:
                    self._writer.count_lost(st, 1)
                    self._want_keyframe(now)
                    return
                st.need_keyframe = False
        if st.index == self._lead:
            self._lead_frame(st, t, payload, key, now)
        else:
            self._follower_frame(st, t, payload, now)

    # -- timing ---------------------------------------------------------------------

    def _first_frame(self, st: InputState, frame: EncodedFrameLike) -> None:
        if not st.start(frame):
            self._report.alert(
                AlertKind.TRACK_FAILED,
                f"Cannot record {self._report.who()}: unsupported {st.kind} codec {frame.codec!r}.",
                error=f"unsupported codec {frame.codec!r} at clock rate {frame.clock_rate}",
            )
            return
        offset = self._clock.offset(frame.arrival)
        data = {
            **self._report.track_data(),
            "stream": st.index,
            "stream_kind": st.kind,
            "codec": st.codec,
            "clock_rate": st.clock_rate,
            "start_offset_us": to_us(offset),
            "start_at": iso(self._clock.wall(offset)),
            "first_rtp_timestamp": frame.rtp_timestamp,
        }
        self._report.append(EntryType.TRACK_STARTED, data)

    def _ticks(self, st: InputState, frame: EncodedFrameLike) -> int:
        """The frame's time on the hearing clock, in its clock's ticks."""
        t, jump = st.place(frame, self._clock)
        if jump is not None and self._writer.segment is not None:
            self._writer.segment.notes.append(
                f"stream {st.index}: RTP timestamp jumped by {jump} ticks; "
                "re-anchored on arrival time"
            )
        return t

    # -- the lead input decides the cuts ------------------------------------------------

    def _lead_frame(self, st: InputState, t: int, payload: bytes, key: bool, now: float) -> None:
        if self._writer.backing_off(now):
            self._writer.count_lost(st, 1)
            return
        seg = self._writer.segment
        rate = st.clock_rate
        if seg is None and not self._hold_done and (key or st.kind != "video" or self._held):
            self._held.append((st, t, payload, key, now))
            self._release_held(now)
            return
        if seg is None:
            if st.kind == "video" and not key:
                if self._writer.outage is not None:
                    self._writer.count_lost(st, 1)
                else:
                    st.before_keyframe += 1
                self._want_keyframe(now)
                return
            if not self._writer.open(t / rate, key, now):
                self._writer.count_lost(st, 1)
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
                self._writer.flush_pending(st, t)
                self._flush_followers(before_s=t / rate)
                self._finish_segment(now, all_followers=False)
                if not self._writer.open(t / rate, key, now):
                    self._writer.count_lost(st, 1)
                    return
        self._writer.write_lead(st, Packet(t, payload, key), now)
        self._flush_followers(upto_s=t / rate)

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

    def _follower_frame(self, st: InputState, t: int, payload: bytes, now: float) -> None:
        pkt = Packet(t, payload, True, st.audio_duration(payload))
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
            seg = self._writer.segment
            if seg is None or st.index not in seg.stream_of:
                if self._writer.outage is not None:
                    self._writer.count_lost(st, 1)
                else:
                    st.before_keyframe += 1
                continue
            self._writer.write(st, pkt, time.monotonic())

    # -- segments -------------------------------------------------------------------

    def _finish_segment(self, now: float, *, all_followers: bool = True) -> None:
        """Write what belongs in the open segment, then close it: the held video packets
        and the audio that follows the video, all of it unless this is a cut (then the
        caller wrote the audio before the cut, and the rest waits for the next segment)."""
        if self._writer.segment is None:
            return
        for st in self._inputs:
            if st.kind == "video":
                self._writer.flush_pending(st)
        if all_followers:
            self._flush_followers()
        self._writer.close(now)

    # -- helpers --------------------------------------------------------------------

    def _want_keyframe(self, now: float, *, force: bool = False) -> None:
        if self._request_keyframe is None or self._inputs[self._lead].kind != "video":
            return
        if not force and now - self._last_keyframe_request < self._opts.keyframe_request_interval:
            return
        self._last_keyframe_request = now
        try:
            self._request_keyframe()
        except Exception:
            log.exception("recorder %s: keyframe request failed", self._report.identity.key)

    def _stats(self) -> TrackStats:
        return TrackStats(
            frames_received=sum(st.received for st in self._inputs) + sum(self._overflow),
            frames_written=sum(st.written for st in self._inputs),
            frames_lost=sum(st.lost for st in self._inputs),
            frames_paused=sum(st.paused for st in self._inputs),
            frames_before_keyframe=sum(st.before_keyframe for st in self._inputs),
            segments=self._writer.segments,
            incomplete_segments=self._writer.incomplete,
            discontinuities=sum(st.discontinuities for st in self._inputs),
        )
