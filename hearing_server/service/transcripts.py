"""TranscriptService: the transcript use cases the API and signaling call.

- :meth:`TranscriptService.record_segment` is the pipeline's ``on_segment`` sink.
- :meth:`TranscriptService.correct_segment`: ``Action.CORRECT_TRANSCRIPT`` (the clerk). The
  original text stays in its segment entry; the correction is a new chain entry and, in the
  same transaction, a ``transcript_segment_corrected`` audit event.
- :meth:`TranscriptService.revise_segment`: the final transcript pass's text for a segment
  (actor ``system``, a ``revision`` entry); the live text stays in the segment's entry.
- :meth:`TranscriptService.finalise`: ``Action.FINALISE_TRANSCRIPT`` (the presiding judge or
  mediator), once the hearing is closed or adjourned (so no speech can still arrive); the
  chain then takes no more entries.
- :meth:`TranscriptService.get_transcript` / :meth:`TranscriptService.export`: staff, and
  participants whose role may see the record (the permission table's
  ``Action.READ_TRANSCRIPT``: judge, clerk, presiding mediator).

Every check goes through the one authorization path (``core.permissions.authorize``).
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Protocol

from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEntry, AuditEvent, head_hash, verify_chain
from hearing_server.core.errors import Conflict, NotFound, ValidationError
from hearing_server.core.evidence import latest_opinions, opinion_text
from hearing_server.core.hearing import Hearing
from hearing_server.core.participant import Participant, Role
from hearing_server.core.permissions import Action, authorize
from hearing_server.store.audit import AuditStore
from hearing_server.store.evidence import EvidenceStore
from hearing_server.store.hearings import HearingStore
from hearing_server.store.transcript import TranscriptStore
from transcription.exports import (
    HeaderPerson,
    RecordEvent,
    RecordExhibit,
    TranscriptHeader,
    to_json,
    to_srt,
    to_webvtt,
)
from transcription.pdf import PdfOptions, to_pdf
from transcription.segments import TranscriptSegment
from transcription.transcript import (
    CORRECTION,
    FINALISED,
    REVISION,
    SEGMENT,
    Transcript,
    TranscriptLine,
    build_transcript,
)

MAX_TEXT = 5000
MAX_REASON = 500
VIEW_ACTION = Action.READ_TRANSCRIPT
"""Who may read and download the transcript (the record-keeping roles)."""


class TranscriptServiceStore(HearingStore, TranscriptStore, EvidenceStore, AuditStore, Protocol):
    """What the service needs of the store: the hearing and its participants (permissions,
    export headers), the transcript chain, and the exhibits, their opinions and the audit
    entries of their presentation, which the record lists (``hearing_server.store.base.Store``
    fits)."""


class ExportFormat(StrEnum):
    WEBVTT = "vtt"
    SRT = "srt"
    JSON = "json"
    PDF = "pdf"


_MEDIA_TYPES = {
    ExportFormat.WEBVTT: "text/vtt; charset=utf-8",
    ExportFormat.SRT: "application/x-subrip; charset=utf-8",
    ExportFormat.JSON: "application/json; charset=utf-8",
    ExportFormat.PDF: "application/pdf",
}


@dataclass(frozen=True, slots=True)
class ExportedFile:
    content: bytes
    media_type: str
    filename: str


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TranscriptService:
    def __init__(
        self,
        store: TranscriptServiceStore,
        *,
        clock: Callable[[], datetime] = _utcnow,
        pdf_options: PdfOptions | None = None,
        default_language: str | None = None,
    ) -> None:
        """``default_language``: the language of hearings that name none (the server's
        ``transcription_language``); zh-CN makes their PDF a Chinese 笔录."""
        self.store = store
        self._default_language = default_language
        self._now = clock
        self._pdf = pdf_options or PdfOptions()
        self._recognising: dict[str, int] = {}
        self._revising: set[str] = set()

    # -- recognition in progress ----------------------------------------------------------

    def begin_recognition(self, hearing_id: str) -> None:
        """Speech of ``hearing_id`` is being recognised: segments may still arrive."""
        self._recognising[hearing_id] = self._recognising.get(hearing_id, 0) + 1

    def end_recognition(self, hearing_id: str) -> None:
        """Every segment of one recognition run is stored (the pipeline has drained)."""
        left = self._recognising.get(hearing_id, 0) - 1
        if left > 0:
            self._recognising[hearing_id] = left
        else:
            self._recognising.pop(hearing_id, None)

    def recognising(self, hearing_id: str) -> bool:
        """True while segments of ``hearing_id`` may still be appended."""
        return hearing_id in self._recognising

    def begin_final_pass(self, hearing_id: str) -> None:
        """The final pass of ``hearing_id`` is waiting or running: texts may still change."""
        self._revising.add(hearing_id)

    def end_final_pass(self, hearing_id: str) -> None:
        self._revising.discard(hearing_id)

    def revising(self, hearing_id: str) -> bool:
        """True while the final pass of ``hearing_id`` may still revise its texts."""
        return hearing_id in self._revising

    # -- the pipeline's sink --------------------------------------------------------------

    async def record_segment(self, segment: TranscriptSegment) -> int:
        """Append a final segment (actor ``system``); returns its sequence number."""
        entry, _ = await self.store.append_transcript(
            segment.hearing_id, "system", SEGMENT, segment.to_data(), self._now()
        )
        return entry.seq

    async def revise_segment(
        self, hearing_id: str, segment_seq: int, text: str, engine: str
    ) -> bool:
        """Store the final pass's ``text`` for a segment; False (nothing stored) once the
        transcript is final, for an unknown segment, or where the clerk has corrected it
        (a person's correction wins over any machine's)."""
        transcript = await self._read(hearing_id)
        line = transcript.line(segment_seq)
        if transcript.finalised is not None or line is None or line.corrected:
            return False
        await self.store.append_transcript(
            hearing_id,
            "system",
            REVISION,
            {"segment_seq": segment_seq, "text": text, "engine": engine, "pass": "final"},
            self._now(),
        )
        return True

    # -- reading ----------------------------------------------------------------------------

    async def current(self, hearing_id: str) -> Transcript:
        """The transcript as it reads now, for the server's own work (the final pass); no
        actor, no permission check: never hand it to a request."""
        return await self._read(hearing_id)

    async def get_transcript(self, actor: Actor, hearing_id: str) -> Transcript:
        hearing = await self.store.get_hearing(hearing_id)
        authorize(actor, VIEW_ACTION, hearing)
        return await self._read(hearing_id)

    async def export(
        self,
        actor: Actor,
        hearing_id: str,
        fmt: ExportFormat | str,
        *,
        tz: tzinfo | None = None,
    ) -> ExportedFile:
        try:
            kind = ExportFormat(fmt)
        except ValueError:
            raise ValidationError(
                f"unknown transcript format {fmt!r}", code="invalid_format"
            ) from None
        hearing = await self.store.get_hearing(hearing_id)
        authorize(actor, VIEW_ACTION, hearing)
        transcript = await self._read(hearing_id)
        header = header_from(
            hearing,
            await self.store.list_participants(hearing_id),
            default_language=self._default_language,
        )
        exhibits, events = await self._evidence_record(hearing_id)
        header = replace(header, exhibits=exhibits, events=events)
        if kind is ExportFormat.WEBVTT:
            data = to_webvtt(transcript, header).encode()
        elif kind is ExportFormat.SRT:
            data = to_srt(transcript).encode()
        elif kind is ExportFormat.JSON:
            data = to_json(
                transcript,
                header,
                recognising=self.recognising(hearing_id),
                revising=self.revising(hearing_id),
            ).encode()
        else:
            opts = self._pdf if tz is None else PdfOptions(self._pdf.font_path, tz, self._pdf.title)
            data = await asyncio.to_thread(to_pdf, transcript, header, opts)
        safe_case = "".join(c if c.isalnum() or c in "-_" else "_" for c in hearing.case_number)
        return ExportedFile(data, _MEDIA_TYPES[kind], f"transcript-{safe_case}.{kind.value}")

    async def final_pdf(self, actor: Actor, hearing_id: str) -> ExportedFile:
        """The finalised transcript (笔录) as PDF. Raises ``Conflict``
        (``transcript_not_final``) before it is finalised: a record still open to correction
        is not served."""
        hearing = await self.store.get_hearing(hearing_id)
        authorize(actor, VIEW_ACTION, hearing)
        if (await self._read(hearing_id)).finalised is None:
            raise Conflict(
                "the transcript is not finalised yet; the judge finalises it once the hearing "
                "is closed or adjourned",
                code="transcript_not_final",
            )
        return await self.export(actor, hearing_id, ExportFormat.PDF)

    # -- changing -------------------------------------------------------------------------

    async def correct_segment(
        self,
        actor: Actor,
        hearing_id: str,
        segment_seq: int,
        text: str,
        *,
        reason: str = "",
    ) -> TranscriptLine:
        """Correct one segment's text; returns the line as it now reads."""
        hearing = await self.store.get_hearing(hearing_id)
        authorize(actor, Action.CORRECT_TRANSCRIPT, hearing)
        text = _clean(text, "text", MAX_TEXT, allow_empty=False)
        reason = _clean(reason, "reason", MAX_REASON, allow_empty=True)
        transcript = await self._read(hearing_id)
        if transcript.finalised is not None:
            raise Conflict(
                "the transcript is final and can no longer be corrected", code="transcript_final"
            )
        line = transcript.line(segment_seq)
        if line is None:
            raise NotFound(f"no transcript segment {segment_seq}")
        if text == line.text:
            return line
        await self.store.append_transcript(
            hearing_id,
            actor.id,
            CORRECTION,
            {"segment_seq": segment_seq, "text": text, "reason": reason},
            self._now(),
            audit_event=AuditEvent.TRANSCRIPT_SEGMENT_CORRECTED.value,
            audit_data={
                "segment_seq": segment_seq,
                "participant_id": line.participant_id,
                "original_text": line.original_text,
                "previous_text": line.text,
                "text": text,
                "reason": reason,
            },
        )
        after = await self._read(hearing_id)
        corrected = after.line(segment_seq)
        assert corrected is not None
        return corrected

    async def finalise(self, actor: Actor, hearing_id: str) -> Transcript:
        """Mark the transcript final; returns it. Needs a closed or adjourned hearing."""
        hearing = await self.store.get_hearing(hearing_id)
        authorize(actor, Action.FINALISE_TRANSCRIPT, hearing)
        if not hearing.is_terminal:
            raise Conflict(
                "the transcript can be finalised once the hearing is closed or adjourned",
                code="hearing_not_closed",
            )
        entries = await self.store.list_transcript(hearing_id)
        current = read_transcript(hearing_id, entries)
        if current.finalised is not None:
            raise Conflict("the transcript is already final", code="transcript_final")
        if self.recognising(hearing_id):
            # A segment stored after the final mark would sit outside what the judge signed off.
            raise Conflict(
                "speech from the hearing is still being recognised; the transcript can be "
                "finalised in a moment, once every segment is in",
                code="transcript_pending",
            )
        if not current.intact:
            raise Conflict(
                "the transcript chain is damaged: "
                + "; ".join(str(p) for p in current.problems[:3]),
                code="transcript_damaged",
            )
        await self.store.append_transcript(
            hearing_id,
            actor.id,
            FINALISED,
            {"segments": len(current.lines), "head_hash": current.head_hash},
            self._now(),
            audit_event=AuditEvent.TRANSCRIPT_FINALISED.value,
            audit_data={"segments": len(current.lines), "head_hash": current.head_hash},
        )
        return await self._read(hearing_id)

    # -- internals --------------------------------------------------------------------------

    async def _evidence_record(
        self, hearing_id: str
    ) -> tuple[tuple[RecordExhibit, ...], tuple[RecordEvent, ...]]:
        """The exhibits with their hashes and the opinions that count, and when each was
        presented and by whom (from the audit chain)."""
        exhibits = await self.store.list_exhibits(hearing_id)
        if not exhibits:
            return (), ()
        counted = latest_opinions(await self.store.list_opinions(hearing_id))
        listed = tuple(
            RecordExhibit(
                label=e.label,
                title=e.title,
                purpose=e.purpose,
                sha256=e.sha256,
                media_type=e.media_type,
                opinions=tuple(
                    opinion_text(op)
                    for (eid, _), op in sorted(counted.items(), key=lambda kv: kv[0][1].value)
                    if eid == e.id
                ),
            )
            for e in exhibits
        )
        events = tuple(
            RecordEvent(
                datetime.fromisoformat(entry.at),
                f"{entry.data.get('presenter', '')}出示{entry.data.get('label', '')}"
                f"《{entry.data.get('title', '')}》",
            )
            for entry in await self.store.list_audit(hearing_id)
            if entry.event == AuditEvent.EVIDENCE_PRESENTED.value
        )
        return listed, events

    async def _read(self, hearing_id: str) -> Transcript:
        return read_transcript(hearing_id, await self.store.list_transcript(hearing_id))


def read_transcript(hearing_id: str, entries: list[AuditEntry]) -> Transcript:
    """The transcript as its chain reads, verified with the audit log's hashing."""
    return build_transcript(
        hearing_id,
        entries,
        head_hash=head_hash(entries),
        problems=verify_chain(entries, hearing_id=hearing_id),
    )


def header_from(
    hearing: Hearing, participants: Iterable[Participant], *, default_language: str | None = None
) -> TranscriptHeader:
    """The export header: the hearing, its people (counsel on the side of the party they
    represent) and its language (the hearing's, else ``default_language``)."""
    present = [p for p in participants if p.role is not Role.COURTROOM_DISPLAY]
    by_id = {p.id: p for p in present}

    def side(p: Participant) -> str | None:
        if p.side is not None:
            return p.side.value
        represented = by_id.get(p.represents or "")
        return represented.side.value if represented and represented.side else None

    people = tuple((p.display_name, p.role.value) for p in present)
    return TranscriptHeader(
        court=hearing.court,
        case_number=hearing.case_number,
        title=hearing.title,
        kind=hearing.kind.value,
        scheduled_start=hearing.scheduled_start,
        scheduled_end=hearing.scheduled_end,
        actual_start=hearing.actual_start,
        actual_end=hearing.actual_end,
        participants=people,
        language=hearing.language or default_language,
        people=tuple(HeaderPerson(p.id, p.display_name, p.role.value, side(p)) for p in present),
    )


def _clean(value: str, name: str, max_len: int, *, allow_empty: bool) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be text")
    value = " ".join(value.split())
    if not value and not allow_empty:
        raise ValidationError(f"{name} must not be empty")
    if len(value) > max_len:
        raise ValidationError(f"{name} is longer than {max_len} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value):
        raise ValidationError(f"{name} must not contain control characters")
    return value
