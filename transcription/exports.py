"""Transcript exports: WebVTT, SRT, JSON (here) and PDF (:mod:`transcription.pdf`).

Cue times are on the hearing clock (00:00:00.000 = the clock's origin). Every line carries
its speaker; corrected lines show the corrected text (JSON keeps the original too); failed
recognitions and lost audio appear as bracketed notes so gaps in the record are visible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .transcript import Transcript, TranscriptLine


@dataclass(frozen=True, slots=True)
class HeaderPerson:
    """Someone in the hearing as the 笔录 names them: ``side`` is a party's (plaintiff,
    defendant, applicant, respondent, third_party), for counsel the side of the party they
    represent; None for the court and others."""

    participant_id: str
    name: str
    role: str
    side: str | None = None


@dataclass(frozen=True, slots=True)
class RecordExhibit:
    """An exhibit as the record lists it: its label (原告证据1), title, purpose, hash and the
    opinions on it, each already written as a sentence."""

    label: str
    title: str
    purpose: str
    sha256: str
    media_type: str
    opinions: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "title": self.title,
            "purpose": self.purpose,
            "sha256": self.sha256,
            "media_type": self.media_type,
            "opinions": list(self.opinions),
        }


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """Something done in the hearing that the record marks in its place among the speech
    (an exhibit presented, and by whom)."""

    at: datetime
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.astimezone(UTC).isoformat(), "text": self.text}


@dataclass(frozen=True, slots=True)
class TranscriptHeader:
    """What the head of an exported transcript says about the hearing. ``language``: the
    hearing's (zh-CN: the PDF is a Chinese 笔录); ``people``: who is who, for the 笔录's
    header and its speaker prefixes."""

    court: str
    case_number: str
    title: str
    kind: str
    scheduled_start: datetime
    scheduled_end: datetime
    actual_start: datetime | None
    actual_end: datetime | None
    participants: tuple[tuple[str, str], ...] = field(default=())  # (name, role)
    language: str | None = None
    people: tuple[HeaderPerson, ...] = field(default=())
    exhibits: tuple[RecordExhibit, ...] = field(default=())
    events: tuple[RecordEvent, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.astimezone(UTC).isoformat() if v else None

        return {
            "court": self.court,
            "case_number": self.case_number,
            "title": self.title,
            "kind": self.kind,
            "scheduled_start": iso(self.scheduled_start),
            "scheduled_end": iso(self.scheduled_end),
            "actual_start": iso(self.actual_start),
            "actual_end": iso(self.actual_end),
            "participants": [{"name": n, "role": r} for n, r in self.participants],
            "exhibits": [e.to_json() for e in self.exhibits],
            "events": [e.to_json() for e in self.events],
        }


def line_text(line: TranscriptLine) -> str:
    """The text a reader sees for a line, notes included."""
    if line.status == "failed":
        return "[inaudible: speech not recognised]"
    if line.status == "gap":
        return f"[audio lost: {line.detail or 'not transcribed'}]"
    return line.text


def speaker_label(line: TranscriptLine) -> str:
    return f"{line.name} ({line.role})" if line.role else line.name


def timestamp(seconds: float, sep: str = ".") -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cue_times(line: TranscriptLine) -> tuple[float, float]:
    start = max(0.0, line.start)
    return start, max(start + 0.001, line.end)


def _vtt_escape(text: str) -> str:
    return " ".join(
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split()
    )


def to_webvtt(transcript: Transcript, header: TranscriptHeader | None = None) -> str:
    out = ["WEBVTT"]
    if header is not None:
        out.append("")
        out.append("NOTE")
        out.append(_vtt_escape(f"{header.court} {header.case_number} {header.title}")
                   .replace("-->", "->"))
    for line in transcript.lines:
        start, end = _cue_times(line)
        voice = _vtt_escape(speaker_label(line)).replace("-->", "->")
        out.append("")
        out.append(f"seg-{line.seq}")
        out.append(f"{timestamp(start)} --> {timestamp(end)}")
        out.append(f"<v {voice}>{_vtt_escape(line_text(line))}")
    return "\n".join(out) + "\n"


def to_srt(transcript: Transcript) -> str:
    out: list[str] = []
    for i, line in enumerate(transcript.lines, 1):
        start, end = _cue_times(line)
        text = " ".join(line_text(line).split())
        out.append(str(i))
        out.append(f"{timestamp(start, ',')} --> {timestamp(end, ',')}")
        out.append(f"{speaker_label(line)}: {text}")
        out.append("")
    return "\n".join(out)


def to_json(
    transcript: Transcript,
    header: TranscriptHeader | None = None,
    *,
    recognising: bool = False,
    revising: bool = False,
) -> str:
    """The transcript as JSON. ``recognising``: speech is still being recognised, so more
    segments may follow (``complete`` is false). ``revising``: the final pass may still
    replace texts (``final_pass_pending`` is true)."""
    doc: dict[str, Any] = {
        "format": "hearing-transcript/1",
        "hearing_id": transcript.hearing_id,
        "hearing": header.to_json() if header is not None else None,
        "complete": not recognising,
        "final_pass_pending": revising,
        "final": transcript.finalised is not None,
        "finalised": (
            None
            if transcript.finalised is None
            else {
                "seq": transcript.finalised.seq,
                "actor": transcript.finalised.actor,
                "at": transcript.finalised.at,
            }
        ),
        "chain": {
            "entries": transcript.entry_count,
            "head_hash": transcript.head_hash,
            "intact": transcript.intact,
            "problems": [str(p) for p in transcript.problems],
        },
        "segments": [ln.to_json() for ln in transcript.lines],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)
