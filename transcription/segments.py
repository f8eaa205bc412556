"""What the pipeline produces: transcript segments (the record) and captions (live)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol


class SegmentStatus(StrEnum):
    OK = "ok"  # recognised text
    FAILED = "failed"  # speech was there, recognition failed: the text is missing
    GAP = "gap"  # audio was lost before recognition (e.g. the decoded tap overflowed)


@dataclass(frozen=True, slots=True)
class Speaker:
    """Whose audio a stream is. ``role`` is a :class:`~hearing_server.core.participant.Role`
    value (a str)."""

    participant_id: str
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    """One final piece of the transcript.

    ``start``/``end`` are seconds on the hearing clock; ``start_at`` is ``start`` as wall
    time (UTC). ``late``: the final result came more than the pipeline's ``late_after_s``
    after the speech ended (recognition was behind).
    """

    hearing_id: str
    participant_id: str
    name: str
    role: str
    start: float
    end: float
    start_at: datetime
    text: str
    engine: str
    language: str = ""
    status: SegmentStatus = SegmentStatus.OK
    late: bool = False
    detail: str = ""  # why a segment failed, or what a gap lost

    def to_data(self) -> dict[str, Any]:
        """The JSON object stored in the transcript chain."""
        return {
            "participant_id": self.participant_id,
            "name": self.name,
            "role": str(self.role),
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "start_at": self.start_at.astimezone(UTC).isoformat(timespec="milliseconds"),
            "text": self.text,
            "engine": self.engine,
            "language": self.language,
            "status": self.status.value,
            "late": self.late,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Caption:
    """A live caption for everyone in the hearing room.

    Interim captions (``final`` False) may be replaced by later ones with the same
    ``participant_id`` and ``segment_id``; a final caption replaces them for good and, once
    stored, carries the transcript ``seq`` (what a clerk's correction refers to).
    ``latency``: seconds from the end of the speech to this caption (final ones).
    """

    hearing_id: str
    participant_id: str
    name: str
    role: str
    segment_id: int
    text: str
    start: float
    end: float
    final: bool
    late: bool = False
    latency: float | None = None
    seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "hearing_id": self.hearing_id,
            "participant_id": self.participant_id,
            "name": self.name,
            "role": str(self.role),
            "segment_id": self.segment_id,
            "text": self.text,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "final": self.final,
            "late": self.late,
            "latency": None if self.latency is None else round(self.latency, 3),
            "seq": self.seq,
        }


class Clock(Protocol):
    """The hearing clock: seconds since ``origin`` (a wall-clock instant, aware)."""

    @property
    def origin(self) -> datetime: ...

    def now(self) -> float: ...


def wall_time(clock: Clock, t: float) -> datetime:
    return clock.origin + timedelta(seconds=t)
