"""PostgreSQL storage of bookings (:class:`~.schedule.ScheduleStore`). Booking takes a lock
on the table that only bookers contend for (readers go on), so two servers cannot both find a
courtroom free and both take it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.schedule import Booking

from .postgres_connection import PostgresConnection, storable, text_checked, to_utc
from .schedule_rows import COLUMNS, booking_from, people_text


def _booking(row: Any) -> Booking:
    return booking_from(tuple(row.values()))


_OVERLAP = (
    f"SELECT {COLUMNS} FROM schedule_bookings WHERE {{status}}start_at < $1 AND end_at > $2 "
    "ORDER BY start_at, hearing_id"
)


class PostgresSchedule(PostgresConnection):
    """The ``schedule_bookings`` table."""

    async def book(
        self,
        booking: Booking,
        *,
        expected_revision: int,
        check: Callable[[list[Booking]], None],
    ) -> None:
        b = booking
        with text_checked("the booking"):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    await conn.execute("LOCK TABLE schedule_bookings IN SHARE ROW EXCLUSIVE MODE")
                    rows = await conn.fetch(
                        _OVERLAP.format(status="status = 'active' AND "), b.end, b.start
                    )
                    check([o for o in map(_booking, rows) if o.hearing_id != b.hearing_id])
                    stored = await conn.fetchval(
                        "SELECT revision FROM schedule_bookings WHERE hearing_id = $1",
                        b.hearing_id,
                    )
                    if (stored or 0) != expected_revision:
                        raise Conflict(
                            "the schedule was changed meanwhile; reload it",
                            code="schedule_changed",
                        )
                    await conn.execute(
                        f"INSERT INTO schedule_bookings ({COLUMNS}) VALUES "
                        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
                        "ON CONFLICT (hearing_id) DO UPDATE SET kind = $2, start_at = $3, "
                        "end_at = $4, courtroom = $5, people = $6, status = $7, revision = $8, "
                        "reason = $9, override = $10, updated_by = $11, updated_at = $12",
                        b.hearing_id, b.kind.value, to_utc(b.start), to_utc(b.end), b.courtroom,
                        people_text(b), b.status.value, b.revision, b.reason, b.override,
                        b.updated_by, to_utc(b.updated_at),
                    )  # fmt: skip
            except asyncpg.ForeignKeyViolationError:
                raise NotFound(f"no hearing {b.hearing_id}") from None

    async def get_booking(self, hearing_id: str) -> Booking:
        row = (
            await self.pool.fetchrow(
                f"SELECT {COLUMNS} FROM schedule_bookings WHERE hearing_id = $1", hearing_id
            )
            if storable(hearing_id)
            else None
        )
        if row is None:
            raise NotFound(f"hearing {hearing_id} is not scheduled")
        return _booking(row)

    async def list_bookings(
        self, *, start: datetime, end: datetime, include_cancelled: bool = False
    ) -> list[Booking]:
        status = "" if include_cancelled else "status = 'active' AND "
        rows = await self.pool.fetch(_OVERLAP.format(status=status), end, start)
        return [_booking(r) for r in rows]
