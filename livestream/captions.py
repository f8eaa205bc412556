"""Captions for the livestream: WebVTT segments beside the video segments, delayed alike.

Final captions from the live transcript arrive with their speech's times on the stream clock
(seconds since the stream started, which is also the MPEG-TS timeline: video pts = seconds x
90000). When a video segment is published, its WebVTT twin is written with the cues that start
within it, so captions appear exactly as late as the picture. What the cut withholds is
withheld here too: cues starting from the first withheld moment until the resume are dropped,
whenever they arrive (recognition lags speech by a few seconds).

A caption recognised after its segment went out (recognition slower than the broadcast delay)
is shown with the next segment, unless it ended more than 10 s before that; with the default
delay of 30 s that does not happen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# X-TIMESTAMP-MAP maps cue time 10 s to MPEG-TS 900000 (= 10 s): cue times are stream-clock
# seconds. (A zero MPEGTS value is treated as "unset" by some players.)
_HEADER = "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:10.000\n"
_KEEP_S = 10.0  # a cue that ended this long before its segment starts is dropped


@dataclass(frozen=True, slots=True)
class Cue:
    start_s: float
    end_s: float
    text: str


def _stamp(t: float) -> str:
    ms = max(0, round(t * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _clean(text: str) -> str:
    # A cue ends at a blank line and "-->" starts a timing line: neither may come from speech.
    return " ".join(text.replace("-->", "→").split())


class CaptionTrack:
    """The cues waiting for their segment, and the stretches a cut withheld."""

    def __init__(self) -> None:
        self._cues: list[Cue] = []
        self._blocked: list[list[float]] = []  # [from_s, until_s) on the stream clock

    def add(self, start_s: float, end_s: float, text: str) -> bool:
        """Keep a final caption unless a cut withheld its moment; whether it was kept."""
        text = _clean(text)
        if not text or end_s <= start_s or not math.isfinite(start_s):
            return False
        if any(lo <= start_s < hi for lo, hi in self._blocked):
            return False
        self._cues.append(Cue(start_s, end_s, text))
        return True

    def cut(self, from_s: float) -> None:
        """Withhold every cue from ``from_s`` on, until ``resume``."""
        self._blocked.append([from_s, math.inf])
        self._cues = [c for c in self._cues if c.start_s < from_s]

    def resume(self, at_s: float) -> None:
        if self._blocked and self._blocked[-1][1] == math.inf:
            self._blocked[-1][1] = at_s

    def segment(self, start_s: float, duration_s: float) -> str:
        """The WebVTT of one segment: the waiting cues that start before its end. A cue from
        before it (speech just before the stream's first keyframe, or recognised after its
        own segment went out) is shown from the segment's start instead of being lost."""
        end = start_s + duration_s
        lines = [_HEADER]
        waiting = []
        for cue in self._cues:
            if cue.start_s >= end:
                waiting.append(cue)
                continue
            if cue.end_s < start_s - _KEEP_S:
                continue  # long gone: showing it now would mislead
            shown_from = max(cue.start_s, start_s)
            shown_to = max(cue.end_s, shown_from + 1.0)
            lines.append(f"{_stamp(shown_from)} --> {_stamp(shown_to)}\n{cue.text}\n")
        self._cues = waiting
        return "\n".join(lines)

    @staticmethod
    def empty() -> str:
        return _HEADER
