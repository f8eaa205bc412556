"""SQLite store (the embedded default) through aiosqlite."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from hearing_server.core.audit import (
    GENESIS_HASH,
    AuditEntry,
    compute_hash,
    format_time,
    make_entry,
)
from hearing_server.core.errors import Conflict, NotFound, ValidationError
from hearing_server.core.hearing import Hearing, HearingKind, HearingState, Visibility
from hearing_server.core.participant import Participant, ParticipantState, PartySide, Role

from .base import TRANSCRIPT_FINALISED
from .migrations import MIGRATIONS


def _dt(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _parse_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _hearing_from_row(row: sqlite3.Row) -> Hearing:
    start = _parse_dt(row["scheduled_start"])
    end = _parse_dt(row["scheduled_end"])
    assert start is not None and end is not None
    return Hearing(
        id=row["id"],
        kind=HearingKind(row["kind"]),
        case_number=row["case_number"],
        court=row["court"],
        title=row["title"],
        scheduled_start=start,
        scheduled_end=end,
        visibility=Visibility(row["visibility"]),
        state=HearingState(row["state"]),
        actual_start=_parse_dt(row["actual_start"]),
        actual_end=_parse_dt(row["actual_end"]),
        next_sitting_id=row["next_sitting_id"],
        created_at=_parse_dt(row["created_at"]),
        layout=row["layout"],
        extra=json.loads(row["extra"]),
    )


def _participant_from_row(row: sqlite3.Row) -> Participant:
    return Participant(
        id=row["id"],
        hearing_id=row["hearing_id"],
        role=Role(row["role"]),
        display_name=row["display_name"],
        state=ParticipantState(row["state"]),
        side=PartySide(row["side"]) if row["side"] else None,
        represents=row["represents"],
        interprets_for=row["interprets_for"],
        language=row["language"],
        resume_state=ParticipantState(row["resume_state"]) if row["resume_state"] else None,
        audio_muted=bool(row["audio_muted"]),
        mute_locked=bool(row["mute_locked"]),
        hand_raised=bool(row["hand_raised"]),
        removed=bool(row["removed"]),
    )


def _audit_from_row(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry.from_dict({**dict(row), "data": json.loads(row["data"])})


def _transcript_entry(
    prev: AuditEntry | None,
    hearing_id: str,
    actor: str,
    event: str,
    data: dict[str, Any],
    at: datetime,
) -> AuditEntry:
    """The next entry of a transcript chain: the audit log's entry format and hashing
    (:func:`~hearing_server.core.audit.compute_hash`), with the transcript's own events."""
    if not event or not actor or not hearing_id:
        raise ValidationError("a transcript entry needs a hearing, an actor and an event")
    try:  # what JSON cannot carry exactly would not verify after a round trip
        clean = json.loads(json.dumps(data, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"transcript entry data is not JSON: {exc}") from None
    if not isinstance(clean, dict):
        raise ValidationError("transcript entry data must be an object")
    entry = AuditEntry(
        seq=1 if prev is None else prev.seq + 1,
        hearing_id=hearing_id,
        at=format_time(at),
        actor=actor,
        event=event,
        data=clean,
        prev_hash=GENESIS_HASH if prev is None else prev.hash,
        hash="",
    )
    try:
        digest = compute_hash(entry)
    except UnicodeEncodeError as exc:
        raise ValidationError(f"transcript entry is not valid text: {exc.reason}") from None
    return replace(entry, hash=digest)


class SQLiteStore:
    """A :class:`~hearing_server.store.base.Store` on one SQLite file (WAL mode)."""

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

    async def open(self) -> None:
        if self._db is not None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self._path)
        db.row_factory = sqlite3.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA synchronous=NORMAL")
        self._db = db
        await self._migrate()

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
        for version, sql in MIGRATIONS:
            if version <= current:
                continue
            await self.db.executescript(
                f"BEGIN;\n{sql}\nINSERT INTO schema_migrations VALUES "
                f"({version}, '{datetime.now(UTC).isoformat()}');\nCOMMIT;"
            )

    async def schema_version(self) -> int:
        async with self.db.execute("SELECT MAX(version) FROM schema_migrations") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # -- hearings ---------------------------------------------------------------------------

    @staticmethod
    def _hearing_params(h: Hearing) -> dict[str, Any]:
        return {
            "id": h.id,
            "kind": h.kind.value,
            "case_number": h.case_number,
            "court": h.court,
            "title": h.title,
            "scheduled_start": _dt(h.scheduled_start),
            "scheduled_end": _dt(h.scheduled_end),
            "visibility": h.visibility.value,
            "state": h.state.value,
            "actual_start": _dt(h.actual_start),
            "actual_end": _dt(h.actual_end),
            "next_sitting_id": h.next_sitting_id,
            "created_at": _dt(h.created_at),
            "layout": h.layout,
            "extra": json.dumps(h.extra, ensure_ascii=False),
        }

    async def create_hearing(self, hearing: Hearing) -> None:
        params = self._hearing_params(hearing)
        cols = ", ".join(params)
        marks = ", ".join(f":{k}" for k in params)
        async with self._write_lock:
            try:
                await self.db.execute(f"INSERT INTO hearings ({cols}) VALUES ({marks})", params)
                await self.db.commit()
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"hearing {hearing.id} exists") from exc

    async def get_hearing(self, hearing_id: str) -> Hearing:
        async with self.db.execute("SELECT * FROM hearings WHERE id = ?", (hearing_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"no hearing {hearing_id}")
        return _hearing_from_row(row)

    async def list_hearings(
        self, *, state: HearingState | None = None, limit: int = 100, offset: int = 0
    ) -> list[Hearing]:
        sql = "SELECT * FROM hearings"
        args: tuple[Any, ...] = ()
        if state is not None:
            sql += " WHERE state = ?"
            args = (state.value,)
        sql += " ORDER BY scheduled_start, id LIMIT ? OFFSET ?"
        async with self.db.execute(sql, (*args, limit, offset)) as cur:
            rows = await cur.fetchall()
        return [_hearing_from_row(r) for r in rows]

    async def update_hearing(self, hearing: Hearing) -> None:
        params = self._hearing_params(hearing)
        sets = ", ".join(f"{k} = :{k}" for k in params if k != "id")
        async with self._write_lock:
            cur = await self.db.execute(f"UPDATE hearings SET {sets} WHERE id = :id", params)
            await self.db.commit()
        if cur.rowcount == 0:
            raise NotFound(f"no hearing {hearing.id}")

    # -- participants -----------------------------------------------------------------------

    @staticmethod
    def _participant_params(p: Participant) -> dict[str, Any]:
        d = asdict(p)
        for key in ("role", "state", "side", "resume_state"):
            if d[key] is not None:
                d[key] = d[key].value
        for key in ("audio_muted", "mute_locked", "hand_raised", "removed"):
            d[key] = int(d[key])
        return d

    async def add_participant(self, participant: Participant) -> None:
        params = self._participant_params(participant)
        cols = ", ".join(params)
        marks = ", ".join(f":{k}" for k in params)
        async with self._write_lock:
            try:
                await self.db.execute(f"INSERT INTO participants ({cols}) VALUES ({marks})", params)
                await self.db.commit()
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"participant {participant.id} exists") from exc

    async def get_participant(self, participant_id: str) -> Participant:
        async with self.db.execute(
            "SELECT * FROM participants WHERE id = ?", (participant_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"no participant {participant_id}")
        return _participant_from_row(row)

    async def list_participants(self, hearing_id: str) -> list[Participant]:
        async with self.db.execute(
            "SELECT * FROM participants WHERE hearing_id = ? ORDER BY rowid", (hearing_id,)
        ) as cur:
            rows = await cur.fetchall()
        return [_participant_from_row(r) for r in rows]

    async def update_participant(self, participant: Participant) -> None:
        params = self._participant_params(participant)
        sets = ", ".join(f"{k} = :{k}" for k in params if k != "id")
        async with self._write_lock:
            cur = await self.db.execute(f"UPDATE participants SET {sets} WHERE id = :id", params)
            await self.db.commit()
        if cur.rowcount == 0:
            raise NotFound(f"no participant {participant.id}")

    # -- audit ------------------------------------------------------------------------------

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

    # -- transcript -------------------------------------------------------------------------

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
        async with self._write_lock:
            prev = await self._chain_head("transcript_log", hearing_id)
            if prev is not None and prev.event == TRANSCRIPT_FINALISED:
                raise Conflict(f"the transcript of hearing {hearing_id} is final")
            entry = _transcript_entry(prev, hearing_id, actor, event, data, at)
            audit: AuditEntry | None = None
            try:
                await self._insert_chain_entry("transcript_log", entry)
                if audit_event is not None:
                    audit = make_entry(
                        await self._chain_head("audit_log", hearing_id),
                        hearing_id,
                        actor,
                        audit_event,
                        {
                            **(audit_data or {}),
                            "transcript_seq": entry.seq,
                            "transcript_hash": entry.hash,
                        },
                        at,
                    )
                    await self._insert_chain_entry("audit_log", audit)
                await self.db.commit()
            except BaseException:
                await self.db.rollback()
                raise
        return entry, audit

    # -- hash chains (audit log, transcript): same layout, table names are constants --------

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

    async def list_transcript(self, hearing_id: str) -> list[AuditEntry]:
        return await self._list_chain("transcript_log", hearing_id)

    # -- tokens -----------------------------------------------------------------------------

    async def revoke_token(self, jti: str, expires_at: datetime) -> None:
        async with self._write_lock:
            await self.db.execute(
                "INSERT OR REPLACE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)",
                (jti, _dt(expires_at)),
            )
            # Expired entries can never match a valid token again; keep the table small.
            await self.db.execute(
                "DELETE FROM revoked_tokens WHERE expires_at < ?", (_dt(datetime.now(UTC)),)
            )
            await self.db.commit()

    async def is_token_revoked(self, jti: str) -> bool:
        async with self.db.execute("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)) as cur:
            return await cur.fetchone() is not None
