"""SQLite storage of notices and their receipts (:class:`~.notices.NoticeStore`)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.notices import Audience, Notice, NoticeRecord, Receipt

from .sqlite_connection import SQLiteConnection, format_dt, parse_dt

_NOTICE = "id, hearing_id, sender_id, audience, target, template, text, created_at"


def _notice(row: Any) -> Notice:
    at = parse_dt(row[7])
    assert at is not None
    return Notice(row[0], row[1], row[2], Audience(row[3]), row[4], row[5], row[6], at)


def _receipt(row: Any) -> Receipt:
    return Receipt(row[0], parse_dt(row[1]), parse_dt(row[2]))


class SQLiteNotices(SQLiteConnection):
    """The ``hearing_notices`` and ``notice_receipts`` tables."""

    async def add_notice(self, notice: Notice, recipients: list[str]) -> None:
        async with self._write_lock:
            try:
                await self.db.execute(
                    f"INSERT INTO hearing_notices ({_NOTICE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        notice.id,
                        notice.hearing_id,
                        notice.sender_id,
                        notice.audience.value,
                        notice.target,
                        notice.template,
                        notice.text,
                        format_dt(notice.created_at),
                    ),
                )
                await self.db.executemany(
                    "INSERT INTO notice_receipts (notice_id, participant_id) VALUES (?, ?)",
                    [(notice.id, pid) for pid in recipients],
                )
            except sqlite3.IntegrityError as exc:
                await self.db.rollback()
                raise Conflict(f"notice {notice.id} cannot be stored: {exc}") from None
            await self.db.commit()

    async def _receipts(self, notice_ids: list[str]) -> dict[str, list[Receipt]]:
        out: dict[str, list[Receipt]] = {nid: [] for nid in notice_ids}
        if not notice_ids:
            return out
        marks = ", ".join("?" for _ in notice_ids)
        async with self.db.execute(
            "SELECT notice_id, participant_id, delivered_at, read_at FROM notice_receipts "
            f"WHERE notice_id IN ({marks}) ORDER BY rowid",
            notice_ids,
        ) as cur:
            for row in await cur.fetchall():
                out[row[0]].append(_receipt(row[1:]))
        return out

    async def get_notice(self, notice_id: str) -> NoticeRecord:
        async with self.db.execute(
            f"SELECT {_NOTICE} FROM hearing_notices WHERE id = ?", (notice_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"no notice {notice_id}")
        receipts = await self._receipts([notice_id])
        return NoticeRecord(_notice(row), tuple(receipts[notice_id]))

    async def list_notices(self, hearing_id: str) -> list[NoticeRecord]:
        async with self.db.execute(
            f"SELECT {_NOTICE} FROM hearing_notices WHERE hearing_id = ? "
            "ORDER BY created_at, rowid",
            (hearing_id,),
        ) as cur:
            notices = [_notice(r) for r in await cur.fetchall()]
        receipts = await self._receipts([n.id for n in notices])
        return [NoticeRecord(n, tuple(receipts[n.id])) for n in notices]

    async def notices_for(self, participant_id: str) -> list[NoticeRecord]:
        cols = ", ".join(f"n.{c.strip()}" for c in _NOTICE.split(","))
        async with self.db.execute(
            f"SELECT {cols}, r.participant_id, r.delivered_at, r.read_at "
            "FROM notice_receipts r JOIN hearing_notices n ON n.id = r.notice_id "
            "WHERE r.participant_id = ? ORDER BY n.created_at, n.rowid",
            (participant_id,),
        ) as cur:
            rows = await cur.fetchall()
        return [NoticeRecord(_notice(r[:8]), (_receipt(r[8:]),)) for r in rows]

    async def mark_receipt(
        self, notice_id: str, participant_id: str, *, delivered: datetime, read: datetime | None
    ) -> tuple[Receipt, bool, bool]:
        async with self._write_lock:
            async with self.db.execute(
                "SELECT participant_id, delivered_at, read_at FROM notice_receipts "
                "WHERE notice_id = ? AND participant_id = ?",
                (notice_id, participant_id),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise NotFound(f"notice {notice_id} was not sent to {participant_id}")
            before = _receipt(row)
            after = Receipt(
                participant_id,
                before.delivered_at or delivered,
                before.read_at or read,
            )
            if after != before:
                await self.db.execute(
                    "UPDATE notice_receipts SET delivered_at = ?, read_at = ? "
                    "WHERE notice_id = ? AND participant_id = ?",
                    (
                        format_dt(after.delivered_at),
                        format_dt(after.read_at),
                        notice_id,
                        participant_id,
                    ),
                )
                await self.db.commit()
        return (
            after,
            before.delivered_at is None,
            before.read_at is None and after.read_at is not None,
        )
