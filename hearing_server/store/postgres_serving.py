"""PostgreSQL storage of served documents and their deliveries
(:class:`~.serving.ServingStore`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.serving import (
    Channel,
    Delivery,
    DeliveryStatus,
    DocumentKind,
    ServedDocument,
    advance,
)

from .postgres_connection import PostgresConnection, storable, text_checked, to_utc

_DOC = "id, hearing_id, kind, title, media_type, size, sha256, created_by, created_at"
_DEL = (
    "id, document_id, hearing_id, recipient, participant_id, channel, address, token_hash, "
    "expires_at, status, queued_at, sent_at, delivered_at, opened_at, confirmed_at, failed_at, "
    "failure, gateway_ref, note, recorded_by, time_zone"
)
_DEL_MARKS = ", ".join(f"${n + 1}" for n in range(len(_DEL.split(","))))


def _doc(row: Any) -> ServedDocument:
    return ServedDocument(
        row["id"],
        row["hearing_id"],
        DocumentKind(row["kind"]),
        row["title"],
        row["media_type"],
        row["size"],
        row["sha256"],
        row["created_by"],
        row["created_at"],
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row["id"],
        document_id=row["document_id"],
        hearing_id=row["hearing_id"],
        recipient=row["recipient"],
        participant_id=row["participant_id"],
        channel=Channel(row["channel"]),
        address=row["address"],
        token_hash=row["token_hash"],
        expires_at=row["expires_at"],
        status=DeliveryStatus(row["status"]),
        queued_at=row["queued_at"],
        sent_at=row["sent_at"],
        delivered_at=row["delivered_at"],
        opened_at=row["opened_at"],
        confirmed_at=row["confirmed_at"],
        failed_at=row["failed_at"],
        failure=row["failure"],
        gateway_ref=row["gateway_ref"],
        note=row["note"],
        recorded_by=row["recorded_by"],
        time_zone=row["time_zone"],
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
        to_utc(d.expires_at),
        d.status.value,
        to_utc(d.queued_at),
        to_utc(d.sent_at),
        to_utc(d.delivered_at),
        to_utc(d.opened_at),
        to_utc(d.confirmed_at),
        to_utc(d.failed_at),
        d.failure,
        d.gateway_ref,
        d.note,
        d.recorded_by,
        d.time_zone,
    )


class PostgresServing(PostgresConnection):
    """The ``served_documents`` and ``deliveries`` tables."""

    async def add_served(self, document: ServedDocument, deliveries: list[Delivery]) -> None:
        d = document
        with text_checked("the served document"):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    await conn.execute(
                        f"INSERT INTO served_documents ({_DOC}) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        d.id,
                        d.hearing_id,
                        d.kind.value,
                        d.title,
                        d.media_type,
                        d.size,
                        d.sha256,
                        d.created_by,
                        to_utc(d.created_at),
                    )
                    await conn.executemany(
                        f"INSERT INTO deliveries ({_DEL}) VALUES ({_DEL_MARKS})",
                        [_delivery_row(x) for x in deliveries],
                    )
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise Conflict(f"document {d.id} cannot be stored: {exc}") from None

    async def add_delivery(self, delivery: Delivery) -> None:
        with text_checked("the delivery"):
            try:
                await self.pool.execute(
                    f"INSERT INTO deliveries ({_DEL}) VALUES ({_DEL_MARKS})",
                    *_delivery_row(delivery),
                )
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise Conflict(f"delivery {delivery.id} cannot be stored: {exc}") from None

    async def get_served_document(self, document_id: str) -> ServedDocument:
        row = (
            await self.pool.fetchrow(
                f"SELECT {_DOC} FROM served_documents WHERE id = $1", document_id
            )
            if storable(document_id)
            else None
        )
        if row is None:
            raise NotFound(f"no served document {document_id}")
        return _doc(row)

    async def list_served_documents(self, hearing_id: str) -> list[ServedDocument]:
        if not storable(hearing_id):
            return []
        rows = await self.pool.fetch(
            f"SELECT {_DOC} FROM served_documents WHERE hearing_id = $1 ORDER BY created_at, id",
            hearing_id,
        )
        return [_doc(r) for r in rows]

    async def _one(self, conn: Any, where: str, value: str, *, lock: bool = False) -> Any:
        if not storable(value):
            return None
        suffix = " FOR UPDATE" if lock else ""
        return await conn.fetchrow(f"SELECT {_DEL} FROM deliveries WHERE {where}{suffix}", value)

    async def get_delivery(self, delivery_id: str) -> Delivery:
        row = await self._one(self.pool, "id = $1", delivery_id)
        if row is None:
            raise NotFound(f"no delivery {delivery_id}")
        return _delivery(row)

    async def delivery_by_token(self, token_hash: str) -> Delivery:
        row = await self._one(self.pool, "token_hash = $1", token_hash)
        if row is None:
            raise NotFound("no such tracking link")
        return _delivery(row)

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
        for column, value in (("hearing_id", hearing_id), ("document_id", document_id)):
            if value is None:
                continue
            if not storable(value):
                return []
            args.append(value)
            where.append(f"{column} = ${len(args)}")
        if open_only:
            where.append("status NOT IN ('opened', 'confirmed')")
        args.append(limit)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = await self.pool.fetch(
            f"SELECT {_DEL} FROM deliveries {clause}ORDER BY queued_at, id LIMIT ${len(args)}",
            *args,
        )
        return [_delivery(r) for r in rows]

    async def advance_delivery(
        self,
        delivery_id: str,
        status: DeliveryStatus,
        at: datetime,
        *,
        reason: str | None = None,
        gateway_ref: str | None = None,
    ) -> tuple[Delivery, bool]:
        with text_checked("the delivery's progress"):
            async with self.pool.acquire() as conn, conn.transaction():
                row = await self._one(conn, "id = $1", delivery_id, lock=True)
                if row is None:
                    raise NotFound(f"no delivery {delivery_id}")
                before = _delivery(row)
                after, changed = advance(before, status, at, reason=reason, gateway_ref=gateway_ref)
                if changed:
                    values = _delivery_row(after)
                    await conn.execute(
                        "UPDATE deliveries SET status = $1, sent_at = $2, delivered_at = $3, "
                        "opened_at = $4, confirmed_at = $5, failed_at = $6, failure = $7, "
                        "gateway_ref = $8 WHERE id = $9",
                        values[9],
                        *values[11:18],
                        delivery_id,
                    )
        return after, changed
