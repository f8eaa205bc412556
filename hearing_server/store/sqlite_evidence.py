"""SQLite storage of exhibits and opinions (:class:`~.evidence.EvidenceStore`)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.evidence import Exhibit, ExhibitSide, Opinion

from .evidence import (
    EXHIBIT_COLUMNS,
    OPINION_COLUMNS,
    exhibit_from_row,
    exhibit_values,
    opinion_from_row,
    opinion_values,
)
from .sqlite_connection import SQLiteConnection, format_dt, parse_dt

_MARKS_EXHIBIT = ", ".join("?" for _ in EXHIBIT_COLUMNS.split(","))
_MARKS_OPINION = ", ".join("?" for _ in OPINION_COLUMNS.split(","))


class SQLiteEvidence(SQLiteConnection):
    """The ``exhibits`` and ``exhibit_opinions`` tables."""

    async def add_exhibit(self, exhibit: Exhibit) -> None:
        async with self._write_lock:
            try:
                if exhibit.supersedes is not None:
                    cur = await self.db.execute(
                        "UPDATE exhibits SET superseded_by = ? "
                        "WHERE id = ? AND hearing_id = ? AND superseded_by IS NULL",
                        (exhibit.id, exhibit.supersedes, exhibit.hearing_id),
                    )
                    if cur.rowcount != 1:
                        raise Conflict(f"exhibit {exhibit.supersedes} cannot be superseded")
                await self.db.execute(
                    f"INSERT INTO exhibits ({EXHIBIT_COLUMNS}) VALUES ({_MARKS_EXHIBIT})",
                    exhibit_values(exhibit, format_dt),
                )
            except sqlite3.IntegrityError as exc:
                await self.db.rollback()
                raise Conflict(f"exhibit {exhibit.id} cannot be stored: {exc}") from None
            except Conflict:
                await self.db.rollback()
                raise
            await self.db.commit()

    async def get_exhibit(self, exhibit_id: str) -> Exhibit:
        async with self.db.execute(
            f"SELECT {EXHIBIT_COLUMNS} FROM exhibits WHERE id = ?", (exhibit_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"no exhibit {exhibit_id}")
        return exhibit_from_row(row, parse_dt)

    async def list_exhibits(self, hearing_id: str) -> list[Exhibit]:
        async with self.db.execute(
            f"SELECT {EXHIBIT_COLUMNS} FROM exhibits WHERE hearing_id = ? "
            "ORDER BY side, number, version",
            (hearing_id,),
        ) as cur:
            rows = await cur.fetchall()
        return [exhibit_from_row(r, parse_dt) for r in rows]

    async def last_exhibit_number(self, hearing_id: str, side: ExhibitSide) -> int:
        async with self.db.execute(
            "SELECT MAX(number) FROM exhibits WHERE hearing_id = ? AND side = ?",
            (hearing_id, side.value),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row is not None and row[0] is not None else 0

    async def mark_exhibit(
        self,
        exhibit_id: str,
        *,
        released_at: datetime | None = None,
        presented_at: datetime | None = None,
    ) -> tuple[Exhibit, bool]:
        async with self._write_lock:
            cur = await self.db.execute(
                "UPDATE exhibits SET released_at = COALESCE(released_at, ?), "
                "presented_at = COALESCE(presented_at, ?) WHERE id = ? AND "
                "((released_at IS NULL AND ? IS NOT NULL) OR "
                "(presented_at IS NULL AND ? IS NOT NULL))",
                (
                    format_dt(released_at),
                    format_dt(presented_at),
                    exhibit_id,
                    format_dt(released_at),
                    format_dt(presented_at),
                ),
            )
            changed = cur.rowcount == 1
            await self.db.commit()
        return await self.get_exhibit(exhibit_id), changed

    async def add_opinion(self, opinion: Opinion) -> None:
        async with self._write_lock:
            async with self.db.execute(
                "SELECT 1 FROM exhibits WHERE id = ? AND hearing_id = ?",
                (opinion.exhibit_id, opinion.hearing_id),
            ) as cur:
                if await cur.fetchone() is None:
                    raise NotFound(f"no exhibit {opinion.exhibit_id} in this hearing")
            try:
                await self.db.execute(
                    f"INSERT INTO exhibit_opinions ({OPINION_COLUMNS}) VALUES ({_MARKS_OPINION})",
                    opinion_values(opinion, format_dt),
                )
            except sqlite3.IntegrityError as exc:
                await self.db.rollback()
                raise Conflict(f"opinion {opinion.id} cannot be stored: {exc}") from None
            await self.db.commit()

    async def list_opinions(self, hearing_id: str) -> list[Opinion]:
        async with self.db.execute(
            f"SELECT {OPINION_COLUMNS} FROM exhibit_opinions WHERE hearing_id = ? "
            "ORDER BY recorded_at, id",
            (hearing_id,),
        ) as cur:
            rows = await cur.fetchall()
        return [opinion_from_row(r, parse_dt) for r in rows]
