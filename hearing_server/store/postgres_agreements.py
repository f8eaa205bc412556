"""PostgreSQL storage of mediation agreements (:class:`~.agreements.AgreementStore`)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg

from hearing_server.core.agreement import (
    Agreement,
    AgreementContent,
    AgreementVersion,
    agreement_from_json,
    agreement_to_json,
)
from hearing_server.core.errors import Conflict

from .agreements import concurrent_change
from .postgres_connection import PostgresConnection, affected, storable, text_checked


class PostgresAgreements(PostgresConnection):
    """The ``agreements`` and ``agreement_versions`` tables."""

    async def get_agreement(self, hearing_id: str) -> Agreement | None:
        if not storable(hearing_id):
            return None
        row = await self.pool.fetchrow(
            "SELECT revision, data FROM agreements WHERE hearing_id = $1", hearing_id
        )
        if row is None:
            return None
        return replace(agreement_from_json(json.loads(row["data"])), revision=row["revision"])

    async def put_agreement(self, agreement: Agreement) -> Agreement:
        stored = replace(agreement, revision=agreement.revision + 1)
        data = json.dumps(agreement_to_json(stored), ensure_ascii=False)
        with text_checked("the agreement"):
            try:
                if agreement.revision == 0:
                    await self.pool.execute(
                        "INSERT INTO agreements (id, hearing_id, revision, data) "
                        "VALUES ($1, $2, 1, $3)",
                        agreement.id,
                        agreement.hearing_id,
                        data,
                    )
                    return stored
                status = await self.pool.execute(
                    "UPDATE agreements SET revision = $1, data = $2 "
                    "WHERE id = $3 AND revision = $4",
                    stored.revision,
                    data,
                    agreement.id,
                    agreement.revision,
                )
            except asyncpg.UniqueViolationError:
                raise concurrent_change() from None
        if affected(status) != 1:
            raise concurrent_change()
        return stored

    async def add_agreement_version(self, agreement_id: str, version: AgreementVersion) -> None:
        with text_checked("the agreement version"):
            try:
                await self.pool.execute(
                    "INSERT INTO agreement_versions "
                    "(agreement_id, number, content, content_hash, created_at, created_by) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    agreement_id,
                    version.number,
                    json.dumps(version.content.to_json(), ensure_ascii=False),
                    version.content_hash,
                    version.created_at.astimezone(UTC).isoformat(),
                    version.created_by,
                )
            except asyncpg.UniqueViolationError:
                raise Conflict(
                    f"version {version.number} exists already", code="stale_version"
                ) from None

    async def list_agreement_versions(self, agreement_id: str) -> list[AgreementVersion]:
        if not storable(agreement_id):
            return []
        rows = await self.pool.fetch(
            "SELECT number, content, content_hash, created_at, created_by "
            "FROM agreement_versions WHERE agreement_id = $1 ORDER BY number",
            agreement_id,
        )
        return [
            AgreementVersion(
                r["number"],
                AgreementContent.from_json(json.loads(r["content"])),
                r["content_hash"],
                datetime.fromisoformat(r["created_at"]),
                r["created_by"],
            )
            for r in rows
        ]
