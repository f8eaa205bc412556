"""The transcript of a hearing as read from its hash chain.

The chain (``TranscriptStore.append_transcript`` / ``list_transcript``) holds, in the audit log's
entry format and hashing:

- ``segment`` entries (actor ``system``): one final :class:`~transcription.segments.
  TranscriptSegment` each, as recognised, never changed;
- ``correction`` entries (actor: the clerk): ``{"segment_seq", "text", "reason"}``; the
  segment's original text stays in its own entry, and each correction is also an audit
  event (``transcript_segment_corrected``);
- one ``finalised`` entry (actor: the judge) closes the chain:
  ``{"segments", "head_hash"}`` the number of segment entries and the hash of the entry
  before it.

:func:`build_transcript` folds the chain into :class:`TranscriptLine` rows in speaking order
(the text is the latest correction's) and verifies the chain on the way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hearing_server.core.audit import AuditEntry, ChainProblem, head_hash, verify_chain
from hearing_server.store.transcript import TRANSCRIPT_FINALISED

SEGMENT = "segment"
CORRECTION = "correction"
FINALISED = TRANSCRIPT_FINALISED


@dataclass(frozen=True, slots=True)
class Correction:
    seq: int
    actor: str
    at: str
    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One segment as it now reads. ``original_text``: as recognised."""

    seq: int
    participant_id: str
    name: str
    role: str
    start: float
    end: float
    start_at: datetime
    text: str
    original_text: str
    engine: str
    status: str
    late: bool
    detail: str
    corrections: tuple[Correction, ...]

    @property
    def corrected(self) -> bool:
        return bool(self.corrections)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "participant_id": self.participant_id,
            "name": self.name,
            "role": self.role,
            "start": self.start,
            "end": self.end,
            "start_at": self.start_at.isoformat(),
            "text": self.text,
            "original_text": self.original_text,
            "engine": self.engine,
            "status": self.status,
            "late": self.late,
            "detail": self.detail,
            "corrections": [
                {"seq": c.seq, "actor": c.actor, "at": c.at, "text": c.text, "reason": c.reason}
                for c in self.corrections
            ],
        }


@dataclass(frozen=True, slots=True)
class Finalisation:
    seq: int
    actor: str
    at: str


@dataclass(frozen=True, slots=True)
class Transcript:
    hearing_id: str
    lines: tuple[TranscriptLine, ...]
    finalised: Finalisation | None
    entry_count: int
    head_hash: str
    problems: tuple[ChainProblem, ...]

    @property
    def intact(self) -> bool:
        return not self.problems

    def line(self, seq: int) -> TranscriptLine | None:
        for ln in self.lines:
            if ln.seq == seq:
                return ln
        return None


def build_transcript(hearing_id: str, entries: Sequence[AuditEntry]) -> Transcript:
    problems = verify_chain(entries, hearing_id=hearing_id)
    segments: dict[int, dict[str, Any]] = {}
    corrections: dict[int, list[Correction]] = {}
    finalised: Finalisation | None = None
    for e in sorted(entries, key=lambda x: x.seq):
        if e.event == SEGMENT:
            segments[e.seq] = e.data
        elif e.event == CORRECTION:
            target = e.data.get("segment_seq")
            if isinstance(target, int):
                corrections.setdefault(target, []).append(
                    Correction(e.seq, e.actor, e.at, str(e.data.get("text", "")),
                               str(e.data.get("reason", "")))
                )
        elif e.event == FINALISED:
            finalised = Finalisation(e.seq, e.actor, e.at)
    lines = []
    for seq, d in segments.items():
        fixes = tuple(corrections.get(seq, ()))
        original = str(d.get("text", ""))
        lines.append(
            TranscriptLine(
                seq=seq,
                participant_id=str(d.get("participant_id", "")),
                name=str(d.get("name", "")),
                role=str(d.get("role", "")),
                start=float(d.get("start", 0.0)),
                end=float(d.get("end", 0.0)),
                start_at=datetime.fromisoformat(str(d.get("start_at"))),
                text=fixes[-1].text if fixes else original,
                original_text=original,
                engine=str(d.get("engine", "")),
                status=str(d.get("status", "ok")),
                late=bool(d.get("late", False)),
                detail=str(d.get("detail", "")),
                corrections=fixes,
            )
        )
    lines.sort(key=lambda ln: (ln.start, ln.seq))
    return Transcript(
        hearing_id=hearing_id,
        lines=tuple(lines),
        finalised=finalised,
        entry_count=len(entries),
        head_hash=head_hash(entries),
        problems=tuple(problems),
    )
