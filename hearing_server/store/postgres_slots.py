"""PostgreSQL storage of mediators' windows and slot links (:class:`~.slots.SlotStore`).
Adding windows locks the windows table against other writers, so two requests cannot both
publish overlapping windows for one mediator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.slots import SlotLink, Window

from .postgres_connection import PostgresConnection, affected, storable, text_checked, to_utc
from .slot_rows import LINK_COLUMNS, WINDOW_COLUMNS, link_data, link_from


def _window(row: Any) -> Window:
    return Window(
        row["id"], row["mediator_key"], row["mediator_name"], row["start_at"], row["end_at"],
        row["created_by"], row["created_at"],
    )  # fmt: skip


def _link(row: Any) -> SlotLink:
    return link_from(
        row["id"], row["hearing_id"], row["token_hash"], row["data"], row["expires_at"],
        row["picked_at"], row["created_by"], row["created_at"],
    )  # fmt: skip


_WINDOWS = (
    f"SELECT {WINDOW_COLUMNS} FROM mediator_windows WHERE start_at < $1 AND end_at > $2 "
    "{keys}ORDER BY start_at, id"
)


class PostgresSlots(PostgresConnection):
    """The ``mediator_windows`` and ``slot_links`` tables."""

    async def add_windows(
        self, windows: list[Window], *, check: Callable[[list[Window]], None]
    ) -> None:
        if not windows:
            return
        start = min(w.start for w in windows)
        end = max(w.end for w in windows)
        keys = sorted({w.mediator_key for w in windows})
        with text_checked("the windows"):
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute("LOCK TABLE mediator_windows IN SHARE ROW EXCLUSIVE MODE")
                rows = await conn.fetch(
                    _WINDOWS.format(keys="AND mediator_key = ANY($3::text[]) "), end, start, keys
                )
                check([_window(r) for r in rows])
                try:
                    await conn.executemany(
                        f"INSERT INTO mediator_windows ({WINDOW_COLUMNS}) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        [
                            (w.id, w.mediator_key, w.mediator_name, to_utc(w.start),
                             to_utc(w.end), w.created_by, to_utc(w.created_at))
                            for w in windows
                        ],
                    )  # fmt: skip
                except asyncpg.IntegrityConstraintViolationError as exc:
                    raise Conflict(f"windows cannot be stored: {exc}") from None

    async def list_windows(
        self, *, start: datetime, end: datetime, mediator_key: str | None = None
    ) -> list[Window]:
        if mediator_key is None:
            rows = await self.pool.fetch(_WINDOWS.format(keys=""), end, start)
        elif not storable(mediator_key):
            return []
        else:
            rows = await self.pool.fetch(
                _WINDOWS.format(keys="AND mediator_key = $3 "), end, start, mediator_key
            )
        return [_window(r) for r in rows]

    async def add_slot_link(self, link: SlotLink) -> None:
        with text_checked("the slot link"):
            try:
                await self.pool.execute(
                    f"INSERT INTO slot_links ({LINK_COLUMNS}) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    link.id, link.hearing_id, link.token_hash, link_data(link),
                    to_utc(link.expires_at), to_utc(link.picked_at), link.created_by,
                    to_utc(link.created_at),
                )  # fmt: skip
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise Conflict(f"slot link {link.id} cannot be stored: {exc}") from None

    async def slot_link_by_token(self, token_hash: str) -> SlotLink:
        row = (
            await self.pool.fetchrow(
                f"SELECT {LINK_COLUMNS} FROM slot_links WHERE token_hash = $1", token_hash
            )
            if storable(token_hash)
            else None
        )
        if row is None:
            raise NotFound("no such link")
        return _link(row)

    async def mark_slot_link_picked(self, link_id: str, at: datetime) -> bool:
        status = await self.pool.execute(
            "UPDATE slot_links SET picked_at = $1 WHERE id = $2 AND picked_at IS NULL",
            to_utc(at),
            link_id,
        )
        return affected(status) == 1
