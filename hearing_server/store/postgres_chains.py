"""PostgreSQL hash-chain tables: the audit log and the transcript share one layout.

Appending reads the chain's head and inserts the entry after it; two appends to one chain at
once (two requests, two workers, two nodes) must not both read the same head. Each append
therefore runs in a transaction that first takes a transaction-scoped advisory lock named by
the chain and the hearing (:func:`chain_lock_key`): appends to one hearing's chain queue up,
appends to other hearings' chains do not wait, and the lock goes with the transaction, even
when the connection dies. An advisory lock rather than ``SELECT ... FOR UPDATE`` on the head
row because an empty chain has no row to lock. The primary key ``(hearing_id, seq)`` stays the
last guard: a second entry with the same seq can never be stored.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import asyncpg

from hearing_server.core.audit import AuditEntry

from .postgres_connection import PostgresConnection

CHAIN_ISOLATION = "read_committed"
"""The isolation of an append, whatever the database's default: each statement must see what
was committed before it, so that the head read after the lock is the head the previous holder
wrote (a snapshot from before the wait would miss it)."""


def chain_lock_key(table: str, hearing_id: str) -> int:
    """The advisory lock key (a signed 64-bit integer) of one hearing's chain in ``table``.

    Derived from a hash, so that every process computes the same key without a shared
    registry; two chains that collide merely wait for each other.
    """
    name = f"hearing-server\0{table}\0{hearing_id}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(name).digest()[:8], "big", signed=True)


def _entry_from_row(row: Any) -> AuditEntry:
    return AuditEntry.from_dict({**dict(row.items()), "data": json.loads(row["data"])})


class PostgresChains(PostgresConnection):
    """Reading and appending chain entries; ``table`` is always a constant of the callers
    (``audit_log``, ``transcript_log``), never input."""

    @staticmethod
    async def _lock_chain(conn: asyncpg.Connection, table: str, hearing_id: str) -> None:
        """Wait for the chain's lock; held until the caller's transaction ends."""
        await conn.execute("SELECT pg_advisory_xact_lock($1)", chain_lock_key(table, hearing_id))

    @staticmethod
    async def _chain_head(
        conn: asyncpg.Connection, table: str, hearing_id: str
    ) -> AuditEntry | None:
        row = await conn.fetchrow(
            f"SELECT hearing_id, seq, at, actor, event, data, prev_hash, hash FROM {table} "
            "WHERE hearing_id = $1 ORDER BY seq DESC LIMIT 1",
            hearing_id,
        )
        return _entry_from_row(row) if row is not None else None

    async def _list_chain(self, table: str, hearing_id: str) -> list[AuditEntry]:
        rows = await self.pool.fetch(
            f"SELECT hearing_id, seq, at, actor, event, data, prev_hash, hash FROM {table} "
            "WHERE hearing_id = $1 ORDER BY seq",
            hearing_id,
        )
        return [_entry_from_row(r) for r in rows]

    @staticmethod
    async def _insert_chain_entry(conn: asyncpg.Connection, table: str, entry: AuditEntry) -> None:
        await conn.execute(
            f"INSERT INTO {table} (hearing_id, seq, at, actor, event, data, prev_hash, hash)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            entry.hearing_id,
            entry.seq,
            entry.at,
            entry.actor,
            entry.event,
            # The same text the SQLite store writes: the stored record reads back identically.
            json.dumps(entry.data, ensure_ascii=False, sort_keys=True),
            entry.prev_hash,
            entry.hash,
        )
