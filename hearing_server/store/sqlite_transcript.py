"""SQLite storage of the transcript chain (:class:`~.transcript.TranscriptStore`), table
``transcript_log``; an entry's audit event goes to ``audit_log`` in the same transaction."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from hearing_server.core.audit import (
    GENESIS_HASH,
    AuditEntry,
    compute_hash,
    format_time,
    make_entry,
)
from hearing_server.core.errors import Conflict, ValidationError

from .sqlite_chains import SQLiteChains
from .transcript import TRANSCRIPT_FINALISED


def _transcript_entry(
    prev: AuditEntry | None,
    hearing_id: str,
    actor: str,
    event: str,
    data: dict[str, Any],
    at: datetime,
) -> AuditEntry:
    """The next entry of a transcript chain: the audit log's entry format and hashing
    (:func:`~hearing_server.core.audit.compute_hash`), with the transcript's own events."""
    if not event or not actor or not hearing_id:
        raise ValidationError("a transcript entry needs a hearing, an actor and an event")
    try:  # what JSON cannot carry exactly would not verify after a round trip
        clean = json.loads(json.dumps(data, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"transcript entry data is not JSON: {exc}") from None
    if not isinstance(clean, dict):
        raise ValidationError("transcript entry data must be an object")
    entry = AuditEntry(
        seq=1 if prev is None else prev.seq + 1,
        hearing_id=hearing_id,
        at=format_time(at),
        actor=actor,
        event=event,
        data=clean,
        prev_hash=GENESIS_HASH if prev is None else prev.hash,
        hash="",
    )
    try:
        digest = compute_hash(entry)
    except UnicodeEncodeError as exc:
        raise ValidationError(f"transcript entry is not valid text: {exc.reason}") from None
    return replace(entry, hash=digest)


class SQLiteTranscript(SQLiteChains):
    """The ``transcript_log`` table: one hash chain per hearing, append only."""

    async def append_transcript(
        self,
        hearing_id: str,
        actor: str,
        event: str,
        data: dict[str, Any],
        at: datetime,
        *,
        audit_event: str | None = None,
        audit_data: dict[str, Any] | None = None,
    ) -> tuple[AuditEntry, AuditEntry | None]:
        async with self._write_lock:
            prev = await self._chain_head("transcript_log", hearing_id)
            if prev is not None and prev.event == TRANSCRIPT_FINALISED:
                raise Conflict(f"the transcript of hearing {hearing_id} is final")
            entry = _transcript_entry(prev, hearing_id, actor, event, data, at)
            audit: AuditEntry | None = None
            try:
                await self._insert_chain_entry("transcript_log", entry)
                if audit_event is not None:
                    audit = make_entry(
                        await self._chain_head("audit_log", hearing_id),
                        hearing_id,
                        actor,
                        audit_event,
                        {
                            **(audit_data or {}),
                            "transcript_seq": entry.seq,
                            "transcript_hash": entry.hash,
                        },
                        at,
                    )
                    await self._insert_chain_entry("audit_log", audit)
                await self.db.commit()
            except BaseException:
                await self.db.rollback()
                raise
        return entry, audit

    async def list_transcript(self, hearing_id: str) -> list[AuditEntry]:
        return await self._list_chain("transcript_log", hearing_id)
