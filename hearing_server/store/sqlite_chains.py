"""SQLite hash-chain tables: the audit log and the transcript share one layout."""

from __future__ import annotations

import json
import sqlite3

from hearing_server.core.audit import AuditEntry

from .sqlite_connection import SQLiteConnection


def _audit_from_row(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry.from_dict({**dict(row), "data": json.loads(row["data"])})


class SQLiteChains(SQLiteConnection):
    """Reading and appending chain entries; ``table`` is always a constant of the callers
    (``audit_log``, ``transcript_log``), never input."""

    async def _chain_head(self, table: str, hearing_id: str) -> AuditEntry | None:
        async with self.db.execute(
            f"SELECT * FROM {table} WHERE hearing_id = ? ORDER BY seq DESC LIMIT 1",
            (hearing_id,),
        ) as cur:
            row = await cur.fetchone()
        return _audit_from_row(row) if row is not None else None

    async def _list_chain(self, table: str, hearing_id: str) -> list[AuditEntry]:
        async with self.db.execute(
            f"SELECT * FROM {table} WHERE hearing_id = ? ORDER BY seq", (hearing_id,)
        ) as cur:
            rows = await cur.fetchall()
        return [_audit_from_row(r) for r in rows]

    async def _insert_chain_entry(self, table: str, entry: AuditEntry) -> None:
        await self.db.execute(
            f"INSERT INTO {table} (hearing_id, seq, at, actor, event, data, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.hearing_id,
                entry.seq,
                entry.at,
                entry.actor,
                entry.event,
                json.dumps(entry.data, ensure_ascii=False, sort_keys=True),
                entry.prev_hash,
                entry.hash,
            ),
        )
