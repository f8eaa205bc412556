"""PostgreSQL storage of the audit log (:class:`~.audit.AuditStore`), table ``audit_log``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hearing_server.core.audit import AuditEntry, make_entry
from hearing_server.core.errors import ValidationError

from .postgres_chains import CHAIN_ISOLATION, PostgresChains
from .postgres_connection import storable, text_checked


class PostgresAudit(PostgresChains):
    """The ``audit_log`` table: one hash chain per hearing."""

    async def append_audit(
        self, hearing_id: str, actor: str, event: str, data: dict[str, Any], at: datetime
    ) -> AuditEntry:
        if not storable(hearing_id):  # make_entry refuses it too, but only after the query
            raise ValidationError("hearing_id must not contain control characters")
        async with self.pool.acquire() as conn, conn.transaction(isolation=CHAIN_ISOLATION):
            await self._lock_chain(conn, "audit_log", hearing_id)
            prev = await self._chain_head(conn, "audit_log", hearing_id)
            entry = make_entry(prev, hearing_id, actor, event, data, at)
            with text_checked("the audit entry"):
                await self._insert_chain_entry(conn, "audit_log", entry)
        return entry

    async def list_audit(self, hearing_id: str) -> list[AuditEntry]:
        if not storable(hearing_id):
            return []
        return await self._list_chain("audit_log", hearing_id)
