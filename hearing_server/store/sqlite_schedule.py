"""SQLite storage of bookings (:class:`~.schedule.ScheduleStore`). The store's one write lock
makes checking for clashes and writing one step."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.schedule import Booking

from .schedule_rows import COLUMNS, booking_from, people_text
from .sqlite_connection import SQLiteConnection, parse_dt
from .sqlite_connection import sortable_dt as _at


def _booking(row: Any) -> Booking:
    values = tuple(row)
    return booking_from(
        (*values[:2], parse_dt(values[2]), parse_dt(values[3]), *values[4:11], parse_dt(values[11]))
    )


class SQLiteSchedule(SQLiteConnection):
    """The ``schedule_bookings`` table."""

    async def _overlapping(
        self, start: datetime, end: datetime, *, include_cancelled: bool
    ) -> list[Booking]:
        status = "" if include_cancelled else "status = 'active' AND "
        async with self.db.execute(
            f"SELECT {COLUMNS} FROM schedule_bookings WHERE {status}start_at < ? AND end_at > ? "
            "ORDER BY start_at, hearing_id",
            (_at(end), _at(start)),
        ) as cur:
            return [_booking(r) for r in await cur.fetchall()]

    async def book(
        self,
        booking: Booking,
        *,
        expected_revision: int,
        check: Callable[[list[Booking]], None],
    ) -> None:
        b = booking
        async with self._write_lock:
            others = await self._overlapping(b.start, b.end, include_cancelled=False)
            check([o for o in others if o.hearing_id != b.hearing_id])
            async with self.db.execute(
                "SELECT revision FROM schedule_bookings WHERE hearing_id = ?", (b.hearing_id,)
            ) as cur:
                row = await cur.fetchone()
            stored = int(row[0]) if row is not None else 0
            if stored != expected_revision:
                raise Conflict(
                    "the schedule was changed meanwhile; reload it", code="schedule_changed"
                )
            values = (
                b.hearing_id, b.kind.value, _at(b.start), _at(b.end), b.courtroom,
                people_text(b), b.status.value, b.revision, b.reason, b.override, b.updated_by,
                _at(b.updated_at),
            )  # fmt: skip
            try:
                await self.db.execute(
                    f"INSERT OR REPLACE INTO schedule_bookings ({COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
            except sqlite3.IntegrityError:
                await self.db.rollback()
                raise NotFound(f"no hearing {b.hearing_id}") from None
            await self.db.commit()

    async def get_booking(self, hearing_id: str) -> Booking:
        async with self.db.execute(
            f"SELECT {COLUMNS} FROM schedule_bookings WHERE hearing_id = ?", (hearing_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"hearing {hearing_id} is not scheduled")
        return _booking(row)

    async def list_bookings(
        self, *, start: datetime, end: datetime, include_cancelled: bool = False
    ) -> list[Booking]:
        return await self._overlapping(start, end, include_cancelled=include_cancelled)
