"""PostgreSQL storage of the transcript chain (:class:`~.transcript.TranscriptStore`), table
``transcript_log``; an entry's audit event goes to ``audit_log`` in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hearing_server.core.audit import AuditEntry, make_entry
from hearing_server.core.errors import Conflict, ValidationError

from .postgres_chains import CHAIN_ISOLATION, PostgresChains
from .postgres_connection import storable, text_checked
from .transcript import TRANSCRIPT_FINALISED, make_transcript_entry


class PostgresTranscript(PostgresChains):
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
        if not storable(hearing_id):
            raise ValidationError("a transcript entry's hearing id must be text")
        # Locks in one order, the transcript's then the audit log's (an audit append takes
        # only the latter), so two appends can never wait for each other in a circle.
        async with self.pool.acquire() as conn, conn.transaction(isolation=CHAIN_ISOLATION):
            await self._lock_chain(conn, "transcript_log", hearing_id)
            prev = await self._chain_head(conn, "transcript_log", hearing_id)
            if prev is not None and prev.event == TRANSCRIPT_FINALISED:
                raise Conflict(f"the transcript of hearing {hearing_id} is final")
            entry = make_transcript_entry(prev, hearing_id, actor, event, data, at)
            with text_checked("the transcript entry"):
                await self._insert_chain_entry(conn, "transcript_log", entry)
            audit: AuditEntry | None = None
            if audit_event is not None:
                await self._lock_chain(conn, "audit_log", hearing_id)
                audit = make_entry(
                    await self._chain_head(conn, "audit_log", hearing_id),
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
                with text_checked("the audit entry"):
                    await self._insert_chain_entry(conn, "audit_log", audit)
        return entry, audit

    async def list_transcript(self, hearing_id: str) -> list[AuditEntry]:
        if not storable(hearing_id):
            return []
        return await self._list_chain("transcript_log", hearing_id)
