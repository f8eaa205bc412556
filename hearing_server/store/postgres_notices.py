"""PostgreSQL storage of notices and their receipts (:class:`~.notices.NoticeStore`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.notices import Audience, Notice, NoticeRecord, Receipt

from .postgres_connection import PostgresConnection, storable, text_checked

_NOTICE = "id, hearing_id, sender_id, audience, target, template, text, created_at"


def _notice(row: Any) -> Notice:
    return Notice(
        row["id"],
        row["hearing_id"],
        row["sender_id"],
        Audience(row["audience"]),
        row["target"],
        row["template"],
        row["text"],
        row["created_at"],
    )


def _receipt(row: Any) -> Receipt:
    return Receipt(row["participant_id"], row["delivered_at"], row["read_at"])


class PostgresNotices(PostgresConnection):
    """The ``hearing_notices`` and ``notice_receipts`` tables."""

    async def add_notice(self, notice: Notice, recipients: list[str]) -> None:
        with text_checked("the notice"):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    await conn.execute(
                        f"INSERT INTO hearing_notices ({_NOTICE}) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        notice.id,
                        notice.hearing_id,
                        notice.sender_id,
                        notice.audience.value,
                        notice.target,
                        notice.template,
                        notice.text,
                        notice.created_at,
                    )
                    await conn.executemany(
                        "INSERT INTO notice_receipts (notice_id, participant_id) VALUES ($1, $2)",
                        [(notice.id, pid) for pid in recipients],
                    )
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise Conflict(f"notice {notice.id} cannot be stored: {exc}") from None

    async def _receipts(self, notice_ids: list[str]) -> dict[str, list[Receipt]]:
        out: dict[str, list[Receipt]] = {nid: [] for nid in notice_ids}
        if not notice_ids:
            return out
        rows = await self.pool.fetch(
            "SELECT notice_id, participant_id, delivered_at, read_at FROM notice_receipts "
            "WHERE notice_id = ANY($1::text[]) ORDER BY participant_id",
            notice_ids,
        )
        for row in rows:
            out[row["notice_id"]].append(_receipt(row))
        return out

    async def get_notice(self, notice_id: str) -> NoticeRecord:
        row = (
            await self.pool.fetchrow(
                f"SELECT {_NOTICE} FROM hearing_notices WHERE id = $1", notice_id
            )
            if storable(notice_id)
            else None
        )
        if row is None:
            raise NotFound(f"no notice {notice_id}")
        receipts = await self._receipts([notice_id])
        return NoticeRecord(_notice(row), tuple(receipts[notice_id]))

    async def list_notices(self, hearing_id: str) -> list[NoticeRecord]:
        if not storable(hearing_id):
            return []
        rows = await self.pool.fetch(
            f"SELECT {_NOTICE} FROM hearing_notices WHERE hearing_id = $1 ORDER BY created_at, id",
            hearing_id,
        )
        notices = [_notice(r) for r in rows]
        receipts = await self._receipts([n.id for n in notices])
        return [NoticeRecord(n, tuple(receipts[n.id])) for n in notices]

    async def notices_for(self, participant_id: str) -> list[NoticeRecord]:
        if not storable(participant_id):
            return []
        cols = ", ".join(f"n.{c.strip()}" for c in _NOTICE.split(","))
        rows = await self.pool.fetch(
            f"SELECT {cols}, r.participant_id, r.delivered_at, r.read_at "
            "FROM notice_receipts r JOIN hearing_notices n ON n.id = r.notice_id "
            "WHERE r.participant_id = $1 ORDER BY n.created_at, n.id",
            participant_id,
        )
        return [NoticeRecord(_notice(r), (_receipt(r),)) for r in rows]

    async def mark_receipt(
        self, notice_id: str, participant_id: str, *, delivered: datetime, read: datetime | None
    ) -> tuple[Receipt, bool, bool]:
        if not (storable(notice_id) and storable(participant_id)):
            raise NotFound(f"notice {notice_id} was not sent to {participant_id}")
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT participant_id, delivered_at, read_at FROM notice_receipts "
                "WHERE notice_id = $1 AND participant_id = $2 FOR UPDATE",
                notice_id,
                participant_id,
            )
            if row is None:
                raise NotFound(f"notice {notice_id} was not sent to {participant_id}")
            before = _receipt(row)
            after = Receipt(
                participant_id, before.delivered_at or delivered, before.read_at or read
            )
            if after != before:
                await conn.execute(
                    "UPDATE notice_receipts SET delivered_at = $1, read_at = $2 "
                    "WHERE notice_id = $3 AND participant_id = $4",
                    after.delivered_at,
                    after.read_at,
                    notice_id,
                    participant_id,
                )
        return (
            after,
            before.delivered_at is None,
            before.read_at is None and after.read_at is not None,
        )
