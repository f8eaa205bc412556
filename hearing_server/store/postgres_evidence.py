"""PostgreSQL storage of exhibits and opinions (:class:`~.evidence.EvidenceStore`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

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
from .postgres_connection import PostgresConnection, storable, text_checked


def _same(value: Any) -> Any:
    return value


def _marks(columns: str) -> str:
    return ", ".join(f"${i + 1}" for i in range(len(columns.split(","))))


class PostgresEvidence(PostgresConnection):
    """The ``exhibits`` and ``exhibit_opinions`` tables."""

    async def add_exhibit(self, exhibit: Exhibit) -> None:
        with text_checked("the exhibit"):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    if exhibit.supersedes is not None:
                        done = await conn.execute(
                            "UPDATE exhibits SET superseded_by = $1 "
                            "WHERE id = $2 AND hearing_id = $3 AND superseded_by IS NULL",
                            exhibit.id,
                            exhibit.supersedes,
                            exhibit.hearing_id,
                        )
                        if done != "UPDATE 1":
                            raise Conflict(f"exhibit {exhibit.supersedes} cannot be superseded")
                    await conn.execute(
                        f"INSERT INTO exhibits ({EXHIBIT_COLUMNS}) "
                        f"VALUES ({_marks(EXHIBIT_COLUMNS)})",
                        *exhibit_values(exhibit, _same),
                    )
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise Conflict(f"exhibit {exhibit.id} cannot be stored: {exc}") from None

    async def get_exhibit(self, exhibit_id: str) -> Exhibit:
        row = (
            await self.pool.fetchrow(
                f"SELECT {EXHIBIT_COLUMNS} FROM exhibits WHERE id = $1", exhibit_id
            )
            if storable(exhibit_id)
            else None
        )
        if row is None:
            raise NotFound(f"no exhibit {exhibit_id}")
        return exhibit_from_row(row, _same)

    async def list_exhibits(self, hearing_id: str) -> list[Exhibit]:
        if not storable(hearing_id):
            return []
        rows = await self.pool.fetch(
            f"SELECT {EXHIBIT_COLUMNS} FROM exhibits WHERE hearing_id = $1 "
            "ORDER BY side, number, version",
            hearing_id,
        )
        return [exhibit_from_row(r, _same) for r in rows]

    async def last_exhibit_number(self, hearing_id: str, side: ExhibitSide) -> int:
        if not storable(hearing_id):
            return 0
        value = await self.pool.fetchval(
            "SELECT MAX(number) FROM exhibits WHERE hearing_id = $1 AND side = $2",
            hearing_id,
            side.value,
        )
        return int(value) if value is not None else 0

    async def mark_exhibit(
        self,
        exhibit_id: str,
        *,
        released_at: datetime | None = None,
        presented_at: datetime | None = None,
    ) -> tuple[Exhibit, bool]:
        if not storable(exhibit_id):
            raise NotFound(f"no exhibit {exhibit_id}")
        done = await self.pool.execute(
            "UPDATE exhibits SET released_at = COALESCE(released_at, $1), "
            "presented_at = COALESCE(presented_at, $2) WHERE id = $3 AND "
            "((released_at IS NULL AND $1::timestamptz IS NOT NULL) OR "
            "(presented_at IS NULL AND $2::timestamptz IS NOT NULL))",
            released_at,
            presented_at,
            exhibit_id,
        )
        return await self.get_exhibit(exhibit_id), done == "UPDATE 1"

    async def add_opinion(self, opinion: Opinion) -> None:
        with text_checked("the opinion"):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    found = await conn.fetchval(
                        "SELECT 1 FROM exhibits WHERE id = $1 AND hearing_id = $2",
                        opinion.exhibit_id,
                        opinion.hearing_id,
                    )
                    if found is None:
                        raise NotFound(f"no exhibit {opinion.exhibit_id} in this hearing")
                    await conn.execute(
                        f"INSERT INTO exhibit_opinions ({OPINION_COLUMNS}) "
                        f"VALUES ({_marks(OPINION_COLUMNS)})",
                        *opinion_values(opinion, _same),
                    )
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise Conflict(f"opinion {opinion.id} cannot be stored: {exc}") from None

    async def list_opinions(self, hearing_id: str) -> list[Opinion]:
        if not storable(hearing_id):
            return []
        rows = await self.pool.fetch(
            f"SELECT {OPINION_COLUMNS} FROM exhibit_opinions WHERE hearing_id = $1 "
            "ORDER BY recorded_at, id",
            hearing_id,
        )
        return [opinion_from_row(r, _same) for r in rows]
