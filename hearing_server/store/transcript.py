"""The transcript's storage: a second hash chain per hearing."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from hearing_server.core.audit import AuditEntry

TRANSCRIPT_FINALISED = "finalised"
"""The transcript chain's closing entry: nothing may follow it."""


class TranscriptStore(Protocol):
    """Persistence of each hearing's transcript chain (append only, closed by finalising)."""

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
        """Append one entry to the hearing's transcript chain atomically.

        The transcript is a second hash chain per hearing, in the audit log's entry format
        (so :func:`hearing_server.core.audit.verify_chain` verifies it); ``event`` names the
        kind of entry (segment, correction, finalised). With ``audit_event``, an audit entry
        is appended in the same transaction, its data being ``audit_data`` plus the new
        transcript entry's ``transcript_seq`` and ``transcript_hash``. Returns both entries.
        Raises :class:`~hearing_server.core.errors.Conflict` once the chain holds a
        :data:`TRANSCRIPT_FINALISED` entry: a finalised transcript takes no more entries.
        """

    async def list_transcript(self, hearing_id: str) -> list[AuditEntry]: ...
