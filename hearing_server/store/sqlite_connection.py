"""What the SQLite store's per-aggregate parts share: one connection and one write lock."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import aiosqlite


def format_dt(value: datetime | None) -> str | None:
    """A time as stored: ISO 8601 in UTC (``None`` stays ``None``)."""
    return value.astimezone(UTC).isoformat() if value is not None else None


def sortable_dt(value: datetime | None) -> str | None:
    """A time as the newer tables keep it: UTC, always with microseconds, so that comparing
    the text compares the times (``isoformat`` leaves out zero microseconds)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def parse_dt(value: str | None) -> datetime | None:
    """A stored time read back (``None`` stays ``None``)."""
    return datetime.fromisoformat(value) if value is not None else None


BUSY_TIMEOUT_S = 30.0
"""How long a write waits for another process's (``serve --workers``) to end."""


class SQLiteConnection:
    """The connection to one SQLite file, shared by the store's per-aggregate mixins.

    :class:`~hearing_server.store.sqlite.SQLiteStore` opens and closes it.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: aiosqlite.Connection | None = None
        # One writer at a time: the audit chain's read-head-then-insert must not interleave,
        # neither between this server's tasks nor with other processes on the same file.
        self._write_lock = _WriteTransaction(self)

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db


class _WriteTransaction:
    """``async with``: this connection's write transaction, one task at a time.

    ``BEGIN IMMEDIATE`` takes SQLite's write lock before the block's first read, so what the
    block reads (a chain's head, a job's state) is still true when it writes, even with other
    processes on the same file (the workers of ``serve --workers``); a writer waits for
    another process's transaction up to the connection's busy timeout. A block that ends
    without committing is committed (nothing it wrote is left pending for the next writer
    to commit by accident); one that raises is rolled back.
    """

    def __init__(self, conn: SQLiteConnection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> None:
        await self._lock.acquire()
        try:
            await self._begin()
        except BaseException:
            self._lock.release()
            raise

    async def _begin(self) -> None:
        # SQLite answers "database is locked" at once, without its busy wait, when this
        # connection is still in the middle of a read (another task's SELECT between its
        # steps) that started before another process's last commit: the read's snapshot
        # cannot become a write. That read ends within moments, so try again until it has.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        pause = 0.002
        while True:
            try:
                await self._conn.db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            db = self._conn.db
            if db.in_transaction:
                if exc_type is None:
                    await db.commit()
                else:
                    await db.rollback()
        finally:
            self._lock.release()
