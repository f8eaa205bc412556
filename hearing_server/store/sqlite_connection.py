"""What the SQLite store's per-aggregate parts share: one connection and one write lock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

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


class SQLiteConnection:
    """The connection to one SQLite file, shared by the store's per-aggregate mixins.

    :class:`~hearing_server.store.sqlite.SQLiteStore` opens and closes it.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: aiosqlite.Connection | None = None
        # One writer at a time: the audit chain's read-head-then-insert must not interleave.
        self._write_lock = asyncio.Lock()

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db
