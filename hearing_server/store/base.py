"""The storage interface. SQLite implements it by default; PostgreSQL can later."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from hearing_server.core.audit import AuditEntry
from hearing_server.core.hearing import Hearing, HearingState
from hearing_server.core.participant import Participant


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

    async def revoke_token(self, jti: str, expires_at: datetime) -> None: ...

    async def is_token_revoked(self, jti: str) -> bool: ...
