"""SQLite storage of the transcript chain (:class:`~.transcript.TranscriptStore`), table
``transcript_log``; an entry's audit event goes to ``audit_log`` in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hearing_server.core.audit import AuditEntry, make_entry
from hearing_server.core.errors import Conflict

from .sqlite_chains import SQLiteChains
from .transcript import TRANSCRIPT_FINALISED, make_transcript_entry


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
            entry = make_transcript_entry(prev, hearing_id, actor, event, data, at)
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
