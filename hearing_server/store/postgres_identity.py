"""PostgreSQL storage of identity checks (:class:`~.identity.IdentityStore`).

The same rows as the SQLite store's (:mod:`.sqlite_identity`, whose JSON forms it shares):
policies, registrations (keyed digests of ID numbers, never the numbers) and each
participant's progress.
"""

from __future__ import annotations

import json

from hearing_server.core.identity import IdentityPolicy, IdentityStatus, Registration

from .postgres_connection import PostgresConnection, storable, text_checked, to_utc
from .sqlite_identity import registration_from_row, status_from_json, status_to_json


class PostgresIdentity(PostgresConnection):
    """The ``identity_policies``, ``identity_registrations`` and ``identity_status`` tables."""

    async def get_identity_policy(self, hearing_id: str) -> IdentityPolicy | None:
        if not storable(hearing_id):
            return None
        row = await self.pool.fetchrow(
            "SELECT policy FROM identity_policies WHERE hearing_id = $1", hearing_id
        )
        return None if row is None else IdentityPolicy.from_json(json.loads(row["policy"]))

    async def set_identity_policy(self, hearing_id: str, policy: IdentityPolicy) -> None:
        with text_checked("the identity policy"):
            await self.pool.execute(
                "INSERT INTO identity_policies (hearing_id, policy) VALUES ($1, $2) "
                "ON CONFLICT (hearing_id) DO UPDATE SET policy = EXCLUDED.policy",
                hearing_id,
                json.dumps(policy.to_json()),
            )

    async def put_registration(self, registration: Registration) -> None:
        r = registration
        registered_at = to_utc(r.registered_at)
        with text_checked("the registration"):
            await self.pool.execute(
                "INSERT INTO identity_registrations (participant_id, hearing_id, legal_name, "
                "id_type, id_digest, id_last4, phone, email, registered_at, registered_by) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                "ON CONFLICT (participant_id) DO UPDATE SET hearing_id = EXCLUDED.hearing_id, "
                "legal_name = EXCLUDED.legal_name, id_type = EXCLUDED.id_type, "
                "id_digest = EXCLUDED.id_digest, id_last4 = EXCLUDED.id_last4, "
                "phone = EXCLUDED.phone, email = EXCLUDED.email, "
                "registered_at = EXCLUDED.registered_at, registered_by = EXCLUDED.registered_by",
                r.participant_id,
                r.hearing_id,
                r.legal_name,
                r.id_type.value,
                r.id_digest,
                r.id_last4,
                r.phone,
                r.email,
                None if registered_at is None else registered_at.isoformat(),
                r.registered_by,
            )

    async def get_registration(self, participant_id: str) -> Registration | None:
        if not storable(participant_id):
            return None
        row = await self.pool.fetchrow(
            "SELECT * FROM identity_registrations WHERE participant_id = $1", participant_id
        )
        return None if row is None else registration_from_row(row)

    async def list_registrations(self, hearing_id: str) -> list[Registration]:
        if not storable(hearing_id):
            return []
        rows = await self.pool.fetch(
            "SELECT * FROM identity_registrations WHERE hearing_id = $1 ORDER BY ord", hearing_id
        )
        return [registration_from_row(r) for r in rows]

    async def get_identity_status(self, participant_id: str) -> IdentityStatus | None:
        if not storable(participant_id):
            return None
        row = await self.pool.fetchrow(
            "SELECT * FROM identity_status WHERE participant_id = $1", participant_id
        )
        if row is None:
            return None
        return status_from_json(row["participant_id"], row["hearing_id"], json.loads(row["data"]))

    async def put_identity_status(self, status: IdentityStatus) -> None:
        with text_checked("the identity status"):
            await self.pool.execute(
                "INSERT INTO identity_status (participant_id, hearing_id, data) "
                "VALUES ($1, $2, $3) ON CONFLICT (participant_id) DO UPDATE SET "
                "hearing_id = EXCLUDED.hearing_id, data = EXCLUDED.data",
                status.participant_id,
                status.hearing_id,
                json.dumps(status_to_json(status)),
            )

    async def list_identity_status(self, hearing_id: str) -> list[IdentityStatus]:
        if not storable(hearing_id):
            return []
        rows = await self.pool.fetch(
            "SELECT * FROM identity_status WHERE hearing_id = $1 ORDER BY ord", hearing_id
        )
        return [
            status_from_json(r["participant_id"], r["hearing_id"], json.loads(r["data"]))
            for r in rows
        ]
