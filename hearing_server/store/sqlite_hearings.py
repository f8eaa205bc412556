"""SQLite storage of hearings and participants (:class:`~.hearings.HearingStore`)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from typing import Any

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.hearing import Hearing, HearingKind, HearingState, Visibility
from hearing_server.core.participant import Participant, ParticipantState, PartySide, Role

from .sqlite_connection import SQLiteConnection, format_dt, parse_dt


def _hearing_from_row(row: sqlite3.Row) -> Hearing:
    start = parse_dt(row["scheduled_start"])
    end = parse_dt(row["scheduled_end"])
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
        actual_start=parse_dt(row["actual_start"]),
        actual_end=parse_dt(row["actual_end"]),
        next_sitting_id=row["next_sitting_id"],
        created_at=parse_dt(row["created_at"]),
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
        hand_raised_at=parse_dt(row["hand_raised_at"]),
        sworn_at=parse_dt(row["sworn_at"]),
        removed=bool(row["removed"]),
    )


class SQLiteHearings(SQLiteConnection):
    """The ``hearings`` and ``participants`` tables."""

    # -- hearings ---------------------------------------------------------------------------

    @staticmethod
    def _hearing_params(h: Hearing) -> dict[str, Any]:
        return {
            "id": h.id,
            "kind": h.kind.value,
            "case_number": h.case_number,
            "court": h.court,
            "title": h.title,
            "scheduled_start": format_dt(h.scheduled_start),
            "scheduled_end": format_dt(h.scheduled_end),
            "visibility": h.visibility.value,
            "state": h.state.value,
            "actual_start": format_dt(h.actual_start),
            "actual_end": format_dt(h.actual_end),
            "next_sitting_id": h.next_sitting_id,
            "created_at": format_dt(h.created_at),
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
        d["hand_raised_at"] = format_dt(p.hand_raised_at)
        d["sworn_at"] = format_dt(p.sworn_at)
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
