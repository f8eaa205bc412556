"""The transcript of a hearing as read from its hash chain.

The application's chain (its store's transcript log) holds, in the audit log's
entry format and hashing:

- ``segment`` entries (actor ``system``): one final :class:`~transcription.segments.
  TranscriptSegment` each, as recognised, never changed;
- ``correction`` entries (actor: the clerk): ``{"segment_seq", "text", "reason"}``; the
  segment's original text stays in its own entry, and each correction is also an audit
  event (``transcript_segment_corrected``);
- ``revision`` entries (actor ``system``): ``{"segment_seq", "text", "engine", "pass"}``,
  the final transcript pass's text for a segment (re-recognised after the hearing with a
  wider beam); it replaces the live text in the transcript and its exports, while the live
  text stays in the segment's own entry. A clerk's correction always wins over it;
- one ``finalised`` entry (actor: the judge) closes the chain:
  ``{"segments", "head_hash"}`` the number of segment entries and the hash of the entry
  before it.

:func:`build_transcript` folds the chain into :class:`TranscriptLine` rows in speaking order
(the text is the latest correction's) and verifies the chain on the way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

SEGMENT = "segment"
CORRECTION = "correction"
REVISION = "revision"
FINALISED = "finalised"


class ChainEntry(Protocol):
    """One entry of the transcript's chain, as the application's store returns it."""

    @property
    def seq(self) -> int: ...

    @property
    def event(self) -> str: ...

    @property
    def actor(self) -> str: ...

    @property
    def at(self) -> str: ...

    @property
    def data(self) -> Mapping[str, Any]: ...


class ChainIssue(Protocol):
    """A problem the application's chain verification found (printable; names its entry)."""

    @property
    def seq(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Correction:
    seq: int
    actor: str
    at: str
    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One segment as it now reads. ``original_text``: as recognised live; ``revised_text``:
    the final pass's (None until it ran); ``text``: the clerk's last correction, else the
    final pass's, else the live text."""

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
    language: str = ""
    revised_text: str | None = None
    revised_by: str = ""  # the engine of the final pass

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
            "final_pass_text": self.revised_text,
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
    problems: tuple[ChainIssue, ...]

    @property
    def intact(self) -> bool:
        return not self.problems

    def line(self, seq: int) -> TranscriptLine | None:
        for ln in self.lines:
            if ln.seq == seq:
                return ln
        return None


def build_transcript(
    hearing_id: str,
    entries: Sequence[ChainEntry],
    *,
    head_hash: str,
    problems: Sequence[ChainIssue] = (),
) -> Transcript:
    """Fold verified chain entries into a transcript.

    The chain's hashing belongs to the application: it verifies ``entries`` and passes what it
    found (``problems``) and the hash of the last entry (``head_hash``).
    """
    segments: dict[int, Mapping[str, Any]] = {}
    corrections: dict[int, list[Correction]] = {}
    revisions: dict[int, Mapping[str, Any]] = {}
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
        elif e.event == REVISION:
            target = e.data.get("segment_seq")
            if isinstance(target, int):
                revisions[target] = e.data  # the latest pass wins
        elif e.event == FINALISED:
            finalised = Finalisation(e.seq, e.actor, e.at)
    lines = []
    for seq, d in segments.items():
        fixes = tuple(corrections.get(seq, ()))
        original = str(d.get("text", ""))
        rev = revisions.get(seq)
        revised = str(rev.get("text", "")) if rev is not None else None
        lines.append(
            TranscriptLine(
                seq=seq,
                participant_id=str(d.get("participant_id", "")),
                name=str(d.get("name", "")),
                role=str(d.get("role", "")),
                start=float(d.get("start", 0.0)),
                end=float(d.get("end", 0.0)),
                start_at=datetime.fromisoformat(str(d.get("start_at"))),
                text=fixes[-1].text if fixes else (revised or original),
                original_text=original,
                engine=str(d.get("engine", "")),
                status=str(d.get("status", "ok")),
                late=bool(d.get("late", False)),
                detail=str(d.get("detail", "")),
                corrections=fixes,
                language=str(d.get("language", "")),
                revised_text=revised,
                revised_by=str(rev.get("engine", "")) if rev is not None else "",
            )
        )
    lines.sort(key=lambda ln: (ln.start, ln.seq))
    return Transcript(
        hearing_id=hearing_id,
        lines=tuple(lines),
        finalised=finalised,
        entry_count=len(entries),
        head_hash=head_hash,
        problems=tuple(problems),
    )
