"""SQLite storage of mediation agreements (:class:`~.agreements.AgreementStore`)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

from hearing_server.core.agreement import (
    Agreement,
    AgreementContent,
    AgreementVersion,
    agreement_from_json,
    agreement_to_json,
)
from hearing_server.core.errors import Conflict

from .agreements import concurrent_change
from .sqlite_connection import SQLiteConnection, format_dt, parse_dt


class SQLiteAgreements(SQLiteConnection):
    """The ``agreements`` and ``agreement_versions`` tables."""

    async def get_agreement(self, hearing_id: str) -> Agreement | None:
        async with self.db.execute(
            "SELECT revision, data FROM agreements WHERE hearing_id = ?", (hearing_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return replace(agreement_from_json(json.loads(row[1])), revision=row[0])

    async def put_agreement(self, agreement: Agreement) -> Agreement:
        stored = replace(agreement, revision=agreement.revision + 1)
        data = json.dumps(agreement_to_json(stored), ensure_ascii=False)
        async with self._write_lock:
            try:
                if agreement.revision == 0:
                    await self.db.execute(
                        "INSERT INTO agreements (id, hearing_id, revision, data) "
                        "VALUES (?, ?, 1, ?)",
                        (agreement.id, agreement.hearing_id, data),
                    )
                else:
                    cur = await self.db.execute(
                        "UPDATE agreements SET revision = ?, data = ? "
                        "WHERE id = ? AND revision = ?",
                        (stored.revision, data, agreement.id, agreement.revision),
                    )
                    if cur.rowcount != 1:
                        await self.db.rollback()
                        raise concurrent_change()
            except sqlite3.IntegrityError:
                await self.db.rollback()
                raise concurrent_change() from None
            await self.db.commit()
        return stored

    async def add_agreement_version(self, agreement_id: str, version: AgreementVersion) -> None:
        async with self._write_lock:
            try:
                await self.db.execute(
                    "INSERT INTO agreement_versions "
                    "(agreement_id, number, content, content_hash, created_at, created_by) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        agreement_id,
                        version.number,
                        json.dumps(version.content.to_json(), ensure_ascii=False),
                        version.content_hash,
                        format_dt(version.created_at),
                        version.created_by,
                    ),
                )
            except sqlite3.IntegrityError:
                await self.db.rollback()
                raise Conflict(
                    f"version {version.number} exists already", code="stale_version"
                ) from None
            await self.db.commit()

    async def list_agreement_versions(self, agreement_id: str) -> list[AgreementVersion]:
        async with self.db.execute(
            "SELECT number, content, content_hash, created_at, created_by "
            "FROM agreement_versions WHERE agreement_id = ? ORDER BY number",
            (agreement_id,),
        ) as cur:
            rows = await cur.fetchall()
        out = []
        for number, content, digest, created_at, created_by in rows:
            at = parse_dt(created_at)
            assert at is not None
            out.append(
                AgreementVersion(
                    number,
                    AgreementContent.from_json(json.loads(content)),
                    digest,
                    at,
                    created_by,
                )
            )
        return out
