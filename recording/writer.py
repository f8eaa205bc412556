"""A track recorder's writer: packets into segment files, finished segments into the
manifest, and write failures into outages.

The segmenter (``segmenter.py``) decides what goes where and when a segment is cut; the writer
carries it out. Failures (open, write, close): the segment is given up (what was written is
kept as an incomplete segment if the file can still be hashed), an alert goes out, and no
segment opens again until a backoff has passed (doubling up to ``retry_max``). Every frame
that did not make it into a file is counted, and the outage is written to the manifest as a
``loss`` entry when writing works again: when a segment after it has been closed, not when
the muxer took a packet (a full disk fails at the flush). Runs on the recorder's thread only.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from . import codecs
from .alerts import AlertKind
from .clock import HearingClock, iso, to_us
from .manifest import EntryType, fsync_dir, sha256_file
from .model import RecordingOptions
from .reporting import TrackReporter
from .segments import SegmentFile, SegmentWriteError, choose_container
from .track_state import InputState, OpenSegment, Outage, Packet


class SegmentWriter:
    """Writes one track recorder's segments; ``segment`` is the open one, if any.

    ``inputs`` is the recorder's own list (shared, not copied): the writer counts written
    and lost frames on it and reads each input's codec and clock rate.
    """

    def __init__(
        self,
        inputs: list[InputState],
        *,
        lead: int,
        directory: Path,
        clock: HearingClock,
        options: RecordingOptions,
        report: TrackReporter,
    ) -> None:
        self._inputs = inputs
        self._lead = lead
        self._dir = directory
        self._clock = clock
        self._opts = options
        self._report = report
        self.segment: OpenSegment | None = None
        self.outage: Outage | None = None
        # An outage whose next segment took packets but is not closed yet, and that
        # segment's start: the outage ends there once the segment is written.
        self._recovering: tuple[Outage, float] | None = None
        self._failed_until: float | None = None
        self._consecutive_failures = 0
        self._next_index = 1
        self.segments = 0  # registered in the manifest, complete or not
        self.incomplete = 0

    def backing_off(self, now: float) -> bool:
        """True while waiting to retry after a failure: no segment may open yet."""
        return self._failed_until is not None and now < self._failed_until

    def open(self, start_s: float, key: bool, now: float) -> bool:
        if self.backing_off(now):
            return False
        ready = [st for st in self._inputs if st.ready]
        specs = [st.spec() for st in ready]
        choice = choose_container(specs)
        index = self._next_index
        rel = f"{self._report.identity.key}/{index:05d}.{choice.extension}"
        try:
            file = SegmentFile(self._dir / rel, specs, choice)
        except SegmentWriteError as exc:
            self.fail(exc, now)
            return False
        self._next_index += 1
        lead = self._inputs[self._lead]
        self.segment = OpenSegment(
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

    def write_lead(self, st: InputState, pkt: Packet, now: float) -> None:
        """Write a packet of the lead input. A video packet's duration is only known from
        the next one, so each is held (``pending``) until its successor arrives."""
        if st.kind == "video":
            if st.pending is not None:
                interval = pkt.t - st.pending.t
                st.last_interval = min(max(interval, 1), st.clock_rate)
                st.pending.duration = max(interval, 1)
                if not self.write(st, st.pending, now):
                    st.pending = None
                    self.count_lost(st, 1)
                    return
            st.pending = pkt
        else:
            pkt.duration = st.audio_duration(pkt.payload)
            self.write(st, pkt, now)

    def flush_pending(self, st: InputState, next_t: int | None = None) -> None:
        pkt = st.pending
        if pkt is None:
            return
        st.pending = None
        pkt.duration = max(1, next_t - pkt.t) if next_t is not None else st.last_interval
        if not self.write(st, pkt, time.monotonic()):
            self.count_lost(st, 1)

    def write(self, st: InputState, pkt: Packet, now: float) -> bool:
        """False when the packet could not be written (no segment has its stream, or the
        write failed); True when written, or counted as not belonging to any segment."""
        seg = self.segment
        if seg is None or st.index not in seg.stream_of:
            return False
        pts = pkt.t - seg.start_ticks[st.index]
        if pts < 0:  # from before the first segment, or after its own segment was closed
            if st.written == 0:
                st.before_keyframe += 1
            else:
                self.count_lost(st, 1)
            return True
        try:
            if st.codec == codecs.OPUS:
                self._fill_silence(seg, st, pts)
            seg.file.write(seg.stream_of[st.index], pkt.payload, pts, pkt.duration, pkt.keyframe)
        except SegmentWriteError as exc:
            self.fail(exc, now)
            return False
        st.written += 1
        seg.packets[st.index] = seg.packets.get(st.index, 0) + 1
        seg.end_ticks[st.index] = max(seg.end_ticks.get(st.index, 0), pts + pkt.duration)
        if self.outage is not None:
            # A packet the muxer took is not on disk yet (it buffers, and a full disk fails
            # only when the segment is flushed): the outage ends here only if this segment
            # closes; until then it is held, and a failure resumes it.
            self._recovering = (self.outage, seg.start_s)
            self.outage = None
        return True

    def _fill_silence(self, seg: OpenSegment, st: InputState, pts: int) -> None:
        """Fill a pause in an Opus stream (DTX: a microphone sending one packet every
        400 ms while silent) with silence packets, so that every player keeps time: a
        player that decodes packets back to back (ffmpeg without ``aresample=async``, most
        media players) would otherwise squeeze each pause out and run ahead of the clock.
        Only inside a segment: a pause across a cut is the gap between two segments."""
        end = seg.end_ticks.get(st.index)
        if end is None:
            return
        step = codecs.OPUS_SILENCE_SAMPLES * st.clock_rate // 48000
        count = (pts - end) // step
        if count <= 0:
            return
        silence = codecs.opus_silence(st.channels)
        stream = seg.stream_of[st.index]
        for k in range(count):
            seg.file.write(stream, silence, end + k * step, step, True)
        seg.silence[st.index] = seg.silence.get(st.index, 0) + count

    def close(self, now: float) -> None:
        """Close the open segment and list it; the caller has written what belongs in it."""
        seg = self.segment
        if seg is None:  # a write before closing failed
            return
        self.segment = None
        try:
            seg.file.close()
        except SegmentWriteError as exc:
            self.segment = seg
            self.fail(exc, now)
            return
        if seg.file.packets == 0:
            _remove_quietly(seg.file.part_path)
            return
        self._consecutive_failures = 0
        if self._recovering is not None:  # a whole segment written: writing works again
            self.outage, end_s = self._recovering
            self._recovering = None
            self.close_outage(end_s, recovered=True)
        self._register(seg, complete=True)

    def _register(self, seg: OpenSegment, *, complete: bool, error: str | None = None) -> None:
        """Hash a closed segment and list it in the manifest; it gets its final name once
        the entry is durable."""
        part, final = seg.file.part_path, seg.file.final_path
        try:
            sha, size = sha256_file(part)
        except OSError as exc:
            self._report.alert(
                AlertKind.WRITE_FAILED,
                f"A segment of {self._report.who()} could not be read back to hash it; it is "
                "not part of the record.",
                error=str(exc),
            )
            return
        duration_s = max(
            (seg.end_ticks.get(i, 0) / self._inputs[i].clock_rate for i in seg.stream_of),
            default=0.0,
        )
        data: dict[str, Any] = {
            **self._report.track_data(),
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
                    "silence_packets": seg.silence.get(i, 0),
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

        self.segments += 1
        if not complete:
            self.incomplete += 1
        self._report.append(EntryType.SEGMENT, data, after=rename)

    def fail(self, exc: BaseException, now: float) -> None:
        """Give up the open segment, alert, and schedule a retry."""
        seg = self.segment
        self.segment = None
        if self._recovering is not None:
            # The segment that seemed to end the outage failed too: the outage goes on, and
            # the judge, told once, is not told again that it ended.
            self.outage, _ = self._recovering
            self._recovering = None
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
        first = self.outage is None
        if self.outage is None:
            self.outage = Outage(start_s=t_s, first_error=str(exc))
        outage = self.outage
        outage.failures += 1
        outage.frames += lost_here
        if first or now - outage.last_alert >= self._opts.alert_repeat_seconds:
            outage.last_alert = now
            again = "" if first else f" (still failing, {outage.failures} attempts)"
            self._report.alert(
                AlertKind.WRITE_FAILED,
                f"Recording of {self._report.who()} failed{again}: {exc}. "
                f"Retrying in {backoff:g} s.",
                error=str(exc),
                retry_in=backoff,
                lost_frames=outage.frames,
            )

    def close_outage(self, end_s: float, *, recovered: bool) -> None:
        outage = self.outage
        if outage is None:
            return
        self.outage = None
        lost_s = max(0.0, end_s - outage.start_s)
        self._report.append(
            EntryType.LOSS,
            {
                **self._report.track_data(),
                "from_us": to_us(outage.start_s),
                "to_us": to_us(max(end_s, outage.start_s)),
                "frames": outage.frames,
                "failures": outage.failures,
                "reason": outage.first_error,
                "recovered": recovered,
            },
        )
        if recovered:
            self._report.alert(
                AlertKind.RECOVERED,
                f"Recording of {self._report.who()} works again; {lost_s:.1f} s "
                f"({outage.frames} frames) were lost.",
                lost_frames=outage.frames,
                lost_seconds=lost_s,
            )

    def count_lost(self, st: InputState, n: int) -> None:
        """Count frames lost on ``st``, and on the outage or segment they belong to."""
        st.lost += n
        if self.outage is not None:
            self.outage.frames += n
        elif self.segment is not None:
            self.segment.lost += n


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
