"""The storage interface. SQLite implements it by default; PostgreSQL can later."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from hearing_server.core.audit import AuditEntry
from hearing_server.core.hearing import Hearing, HearingState
from hearing_server.core.participant import Participant

TRANSCRIPT_FINALISED = "finalised"
"""The transcript chain's closing entry: nothing may follow it."""


class Store(Protocol):
    """Persistence of hearings, participants, the audit log and revoked tokens.

    Implementations raise :class:`hearing_server.core.errors.NotFound` for missing rows and
    :class:`hearing_server.core.errors.Conflict` for duplicate ids.
    """

    async def open(self) -> None:
        """Connect and apply pending schema migrations."""

    async def close(self) -> None:
        """Release the connection. Idempotent."""

    async def schema_version(self) -> int: ...

    async def create_hearing(self, hearing: Hearing) -> None: ...

    async def get_hearing(self, hearing_id: str) -> Hearing: ...

    async def list_hearings(
        self, *, state: HearingState | None = None, limit: int = 100, offset: int = 0
    ) -> list[Hearing]: ...

    async def update_hearing(self, hearing: Hearing) -> None: ...

    async def add_participant(self, participant: Participant) -> None: ...

    async def get_participant(self, participant_id: str) -> Participant: ...

    async def list_participants(self, hearing_id: str) -> list[Participant]: ...

    async def update_participant(self, participant: Participant) -> None: ...

    async def append_audit(
        self, hearing_id: str, actor: str, event: str, data: dict[str, Any], at: datetime
    ) -> AuditEntry:
        """Append one entry to the hearing's hash chain atomically and return it."""

    async def list_audit(self, hearing_id: str) -> list[AuditEntry]: ...

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

    async def revoke_token(self, jti: str, expires_at: datetime) -> None: ...

    async def is_token_revoked(self, jti: str) -> bool: ...
