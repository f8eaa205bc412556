"""SQLite storage of served documents and their deliveries (:class:`~.serving.ServingStore`)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.serving import (
    Channel,
    Delivery,
    DeliveryStatus,
    DocumentKind,
    ServedDocument,
    advance,
)

from .sqlite_connection import SQLiteConnection, parse_dt
from .sqlite_connection import sortable_dt as _at

_DOC = "id, hearing_id, kind, title, media_type, size, sha256, created_by, created_at"
_DEL = (
    "id, document_id, hearing_id, recipient, participant_id, channel, address, token_hash, "
    "expires_at, status, queued_at, sent_at, delivered_at, opened_at, confirmed_at, failed_at, "
    "failure, gateway_ref, note, recorded_by, time_zone"
)
_DEL_MARKS = ", ".join("?" for _ in _DEL.split(","))


def _doc(row: Any) -> ServedDocument:
    at = parse_dt(row[8])
    assert at is not None
    return ServedDocument(
        row[0], row[1], DocumentKind(row[2]), row[3], row[4], row[5], row[6], row[7], at
    )


def _delivery(row: Any) -> Delivery:
    queued = parse_dt(row[10])
    assert queued is not None
    return Delivery(
        id=row[0],
        document_id=row[1],
        hearing_id=row[2],
        recipient=row[3],
        participant_id=row[4],
        channel=Channel(row[5]),
        address=row[6],
        token_hash=row[7],
        expires_at=parse_dt(row[8]),
        status=DeliveryStatus(row[9]),
        queued_at=queued,
        sent_at=parse_dt(row[11]),
        delivered_at=parse_dt(row[12]),
        opened_at=parse_dt(row[13]),
        confirmed_at=parse_dt(row[14]),
        failed_at=parse_dt(row[15]),
        failure=row[16],
        gateway_ref=row[17],
        note=row[18],
        recorded_by=row[19],
        time_zone=row[20],
    )


def _delivery_row(d: Delivery) -> tuple[Any, ...]:
    return (
        d.id,
        d.document_id,
        d.hearing_id,
        d.recipient,
        d.participant_id,
        d.channel.value,
        d.address,
        d.token_hash,
        _at(d.expires_at),
        d.status.value,
        _at(d.queued_at),
        _at(d.sent_at),
        _at(d.delivered_at),
        _at(d.opened_at),
        _at(d.confirmed_at),
        _at(d.failed_at),
        d.failure,
        d.gateway_ref,
        d.note,
        d.recorded_by,
        d.time_zone,
    )


class SQLiteServing(SQLiteConnection):
    """The ``served_documents`` and ``deliveries`` tables."""

    async def add_served(self, document: ServedDocument, deliveries: list[Delivery]) -> None:
        d = document
        async with self._write_lock:
            try:
                await self.db.execute(
                    f"INSERT INTO served_documents ({_DOC}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        d.id,
                        d.hearing_id,
                        d.kind.value,
                        d.title,
                        d.media_type,
                        d.size,
                        d.sha256,
                        d.created_by,
                        _at(d.created_at),
                    ),
                )
                await self.db.executemany(
                    f"INSERT INTO deliveries ({_DEL}) VALUES ({_DEL_MARKS})",
                    [_delivery_row(x) for x in deliveries],
                )
            except sqlite3.IntegrityError as exc:
                await self.db.rollback()
                raise Conflict(f"document {d.id} cannot be stored: {exc}") from None
            await self.db.commit()

    async def add_delivery(self, delivery: Delivery) -> None:
        async with self._write_lock:
            try:
                await self.db.execute(
                    f"INSERT INTO deliveries ({_DEL}) VALUES ({_DEL_MARKS})",
                    _delivery_row(delivery),
                )
            except sqlite3.IntegrityError as exc:
                await self.db.rollback()
                raise Conflict(f"delivery {delivery.id} cannot be stored: {exc}") from None
            await self.db.commit()

    async def get_served_document(self, document_id: str) -> ServedDocument:
        async with self.db.execute(
            f"SELECT {_DOC} FROM served_documents WHERE id = ?", (document_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"no served document {document_id}")
        return _doc(row)

    async def list_served_documents(self, hearing_id: str) -> list[ServedDocument]:
        async with self.db.execute(
            f"SELECT {_DOC} FROM served_documents WHERE hearing_id = ? ORDER BY created_at, id",
            (hearing_id,),
        ) as cur:
            return [_doc(r) for r in await cur.fetchall()]

    async def _one(self, where: str, value: str) -> Delivery | None:
        async with self.db.execute(f"SELECT {_DEL} FROM deliveries WHERE {where}", (value,)) as cur:
            row = await cur.fetchone()
        return _delivery(row) if row is not None else None

    async def get_delivery(self, delivery_id: str) -> Delivery:
        found = await self._one("id = ?", delivery_id)
        if found is None:
            raise NotFound(f"no delivery {delivery_id}")
        return found

    async def delivery_by_token(self, token_hash: str) -> Delivery:
        found = await self._one("token_hash = ?", token_hash)
        if found is None:
            raise NotFound("no such tracking link")
        return found

    async def list_deliveries(
        self,
        *,
        hearing_id: str | None = None,
        document_id: str | None = None,
        open_only: bool = False,
        limit: int = 1000,
    ) -> list[Delivery]:
        where: list[str] = []
        args: list[object] = []
        if hearing_id is not None:
            where.append("hearing_id = ?")
            args.append(hearing_id)
        if document_id is not None:
            where.append("document_id = ?")
            args.append(document_id)
        if open_only:
            where.append("status NOT IN ('opened', 'confirmed')")
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        async with self.db.execute(
            f"SELECT {_DEL} FROM deliveries {clause}ORDER BY queued_at, id LIMIT ?",
            (*args, limit),
        ) as cur:
            return [_delivery(r) for r in await cur.fetchall()]

    async def advance_delivery(
        self,
        delivery_id: str,
        status: DeliveryStatus,
        at: datetime,
        *,
        reason: str | None = None,
        gateway_ref: str | None = None,
    ) -> tuple[Delivery, bool]:
        async with self._write_lock:
            before = await self._one("id = ?", delivery_id)
            if before is None:
                raise NotFound(f"no delivery {delivery_id}")
            after, changed = advance(before, status, at, reason=reason, gateway_ref=gateway_ref)
            if changed:
                row = _delivery_row(after)
                await self.db.execute(
                    "UPDATE deliveries SET status = ?, sent_at = ?, delivered_at = ?, "
                    "opened_at = ?, confirmed_at = ?, failed_at = ?, failure = ?, gateway_ref = ? "
                    "WHERE id = ?",
                    (*row[9:10], *row[11:18], delivery_id),
                )
                await self.db.commit()
        return after, changed
