"""SQLite storage of mediators' windows and slot links (:class:`~.slots.SlotStore`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.slots import SlotLink, Window

from .slot_rows import LINK_COLUMNS, WINDOW_COLUMNS, link_data, link_from
from .sqlite_connection import SQLiteConnection, parse_dt
from .sqlite_connection import sortable_dt as _at


def _window(row: Any) -> Window:
    start, end, at = parse_dt(row[3]), parse_dt(row[4]), parse_dt(row[6])
    assert start is not None and end is not None and at is not None
    return Window(row[0], row[1], row[2], start, end, row[5], at)


def _link(row: Any) -> SlotLink:
    expires, created = parse_dt(row[4]), parse_dt(row[7])
    assert expires is not None and created is not None
    return link_from(row[0], row[1], row[2], row[3], expires, parse_dt(row[5]), row[6], created)


class SQLiteSlots(SQLiteConnection):
    """The ``mediator_windows`` and ``slot_links`` tables."""

    async def _windows(
        self, start: datetime, end: datetime, keys: list[str] | None
    ) -> list[Window]:
        where = "start_at < ? AND end_at > ?"
        args: list[object] = [_at(end), _at(start)]
        if keys is not None:
            where += f" AND mediator_key IN ({', '.join('?' for _ in keys)})"
            args.extend(keys)
        async with self.db.execute(
            f"SELECT {WINDOW_COLUMNS} FROM mediator_windows WHERE {where} ORDER BY start_at, id",
            args,
        ) as cur:
            return [_window(r) for r in await cur.fetchall()]

    async def add_windows(
        self, windows: list[Window], *, check: Callable[[list[Window]], None]
    ) -> None:
        if not windows:
            return
        start = min(w.start for w in windows)
        end = max(w.end for w in windows)
        async with self._write_lock:
            check(await self._windows(start, end, sorted({w.mediator_key for w in windows})))
            try:
                await self.db.executemany(
                    f"INSERT INTO mediator_windows ({WINDOW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            w.id,
                            w.mediator_key,
                            w.mediator_name,
                            _at(w.start),
                            _at(w.end),
                            w.created_by,
                            _at(w.created_at),
                        )
                        for w in windows
                    ],
                )
            except sqlite3.IntegrityError as exc:
                await self.db.rollback()
                raise Conflict(f"windows cannot be stored: {exc}") from None
            await self.db.commit()

    async def list_windows(
        self, *, start: datetime, end: datetime, mediator_key: str | None = None
    ) -> list[Window]:
        return await self._windows(start, end, None if mediator_key is None else [mediator_key])

    async def add_slot_link(self, link: SlotLink) -> None:
        async with self._write_lock:
            try:
                await self.db.execute(
                    f"INSERT INTO slot_links ({LINK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (link.id, link.hearing_id, link.token_hash, link_data(link),
                     _at(link.expires_at), _at(link.picked_at), link.created_by,
                     _at(link.created_at)),
                )  # fmt: skip
            except sqlite3.IntegrityError as exc:
                await self.db.rollback()
                raise Conflict(f"slot link {link.id} cannot be stored: {exc}") from None
            await self.db.commit()

    async def slot_link_by_token(self, token_hash: str) -> SlotLink:
        async with self.db.execute(
            f"SELECT {LINK_COLUMNS} FROM slot_links WHERE token_hash = ?", (token_hash,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFound("no such link")
        return _link(row)

    async def mark_slot_link_picked(self, link_id: str, at: datetime) -> bool:
        async with self._write_lock:
            cur = await self.db.execute(
                "UPDATE slot_links SET picked_at = ? WHERE id = ? AND picked_at IS NULL",
                (_at(at), link_id),
            )
            await self.db.commit()
        return cur.rowcount == 1
