"""The audit log's storage: one hash chain per hearing."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from hearing_server.core.audit import AuditEntry


class AuditStore(Protocol):
    """Persistence of each hearing's audit log (a hash chain, append only)."""

    async def append_audit(
        self, hearing_id: str, actor: str, event: str, data: dict[str, Any], at: datetime
    ) -> AuditEntry:
        """Append one entry to the hearing's hash chain atomically and return it."""

    async def list_audit(self, hearing_id: str) -> list[AuditEntry]: ...
