"""SQLite store (the embedded default) through aiosqlite.

One connection (:mod:`.sqlite_connection`) shared by one mixin per aggregate:
:mod:`.sqlite_hearings`, :mod:`.sqlite_audit`, :mod:`.sqlite_transcript` (both on the hash
chain tables of :mod:`.sqlite_chains`), :mod:`.sqlite_tokens` and :mod:`.sqlite_identity`;
:class:`SQLiteStore` combines them and adds the lifecycle (connecting, migrations from
:mod:`.migrations`).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from .migrations import MIGRATIONS
from .sqlite_agreements import SQLiteAgreements
from .sqlite_audit import SQLiteAudit
from .sqlite_connection import BUSY_TIMEOUT_S
from .sqlite_evidence import SQLiteEvidence
from .sqlite_hearings import SQLiteHearings
from .sqlite_identity import SQLiteIdentity
from .sqlite_jobs import SQLiteJobs
from .sqlite_notices import SQLiteNotices
from .sqlite_schedule import SQLiteSchedule
from .sqlite_serving import SQLiteServing
from .sqlite_slots import SQLiteSlots
from .sqlite_tokens import SQLiteTokens
from .sqlite_transcript import SQLiteTranscript

log = logging.getLogger(__name__)


def _lock_file(path: Path) -> int:
    """An exclusive flock on ``path`` (created), held until the returned fd is closed."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _owner_only(path: Path) -> None:
    """The database holds people's names, contact details and the hearing's record: only
    the server's user may read it. SQLite gives its -wal and -shm files the database's mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("%s was readable by others (mode %o): made owner-only", path, mode)
            for part in (
                path,
                path.with_name(path.name + "-wal"),
                path.with_name(path.name + "-shm"),
            ):
                if part.exists():
                    part.chmod(stat.S_IMODE(part.stat().st_mode) & 0o700)
        return
    os.close(fd)


class SQLiteStore(
    SQLiteHearings,
    SQLiteAudit,
    SQLiteTranscript,
    SQLiteTokens,
    SQLiteIdentity,
    SQLiteAgreements,
    SQLiteNotices,
    SQLiteEvidence,
    SQLiteJobs,
    SQLiteServing,
    SQLiteSchedule,
    SQLiteSlots,
):
    """A :class:`~hearing_server.store.base.Store` on one SQLite file (WAL mode).

    Constructed with the database file's path; :meth:`open` creates it as needed.
    """

    async def open(self) -> None:
        if self._db is not None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        _owner_only(self._path)
        # Several processes opening one file at once (serve --workers) open and migrate one
        # after another: switching to WAL can answer "database is locked" at once, without
        # waiting out the busy timeout, when another connection switches too; and
        # executescript commits what is pending first, so SQLite's own locks cannot hold a
        # whole migration step plus the check of the version before it.
        lock = await asyncio.to_thread(
            _lock_file, self._path.with_name(self._path.name + ".migrating")
        )
        try:
            # the busy timeout: how long a write waits for another process's
            db = await aiosqlite.connect(self._path, timeout=BUSY_TIMEOUT_S)
            try:
                db.row_factory = sqlite3.Row
                await db.execute("PRAGMA journal_mode=WAL")
                await db.execute("PRAGMA foreign_keys=ON")
                await db.execute("PRAGMA synchronous=NORMAL")
                self._db = db
                await self._migrate()
            except BaseException:
                # An open that fails closes its connection: aiosqlite's thread would keep the
                # process from exiting.
                self._db = None
                await db.close()
                raise
        finally:
            os.close(lock)

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    async def _migrate(self) -> None:
        await self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "applied_at TEXT NOT NULL)"
        )
        current = await self.schema_version()
        for step in MIGRATIONS:
            if step.version <= current:
                continue
            await self.db.executescript(
                f"BEGIN;\n{step.sqlite}\nINSERT INTO schema_migrations VALUES "
                f"({step.version}, '{datetime.now(UTC).isoformat()}');\nCOMMIT;"
            )

    async def schema_version(self) -> int:
        async with self.db.execute("SELECT MAX(version) FROM schema_migrations") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0
