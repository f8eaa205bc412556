"""SQLite storage of the audit log (:class:`~.audit.AuditStore`), table ``audit_log``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hearing_server.core.audit import AuditEntry, make_entry

from .sqlite_chains import SQLiteChains


class SQLiteAudit(SQLiteChains):
    """The ``audit_log`` table: one hash chain per hearing."""

    async def append_audit(
        self, hearing_id: str, actor: str, event: str, data: dict[str, Any], at: datetime
    ) -> AuditEntry:
        async with self._write_lock:
            prev = await self._chain_head("audit_log", hearing_id)
            entry = make_entry(prev, hearing_id, actor, event, data, at)
            await self._insert_chain_entry("audit_log", entry)
            await self.db.commit()
        return entry

    async def list_audit(self, hearing_id: str) -> list[AuditEntry]:
        return await self._list_chain("audit_log", hearing_id)
