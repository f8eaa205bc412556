"""SQLite storage of identity checks (:class:`~.identity.IdentityStore`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from hearing_server.core.identity import (
    CodeChallenge,
    FaceOutcome,
    IdentityOutcome,
    IdentityPolicy,
    IdentityStatus,
    IdentityStep,
    IdType,
    Override,
    Registration,
    StepRecord,
)

from .sqlite_connection import SQLiteConnection, format_dt, parse_dt


def _dt(value: datetime | None) -> str | None:
    return format_dt(value)


def status_to_json(s: IdentityStatus) -> dict[str, Any]:
    """The stored form of a participant's progress (digests only, never a code)."""
    return {
        "steps": {
            step.value: {
                "passed_at": _dt(rec.passed_at),
                "failures": rec.failures,
                "locked_until": _dt(rec.locked_until),
            }
            for step, rec in s.steps.items()
        },
        "code": None
        if s.code is None
        else {
            "digest": s.code.digest,
            "issued_at": _dt(s.code.issued_at),
            "expires_at": _dt(s.code.expires_at),
            "tries": s.code.tries,
            "used": s.code.used,
            "spent": s.code.spent,
        },
        "override": None
        if s.override is None
        else {
            "outcome": s.override.outcome.value,
            "by": s.override.by,
            "reason": s.override.reason,
            "at": _dt(s.override.at),
            "pending": [p.value for p in s.override.pending],
        },
        "help_requested_at": _dt(s.help_requested_at),
        "face": None
        if s.face is None
        else {
            "decision": s.face.decision,
            "distance": s.face.distance,
            "threshold": s.face.threshold,
            "liveness": s.face.liveness,
            "reason": s.face.reason,
            "at": _dt(s.face.at),
        },
    }


def _req(value: str | None) -> datetime:
    parsed = parse_dt(value)
    assert parsed is not None
    return parsed


def status_from_json(pid: str, hid: str, raw: dict[str, Any]) -> IdentityStatus:
    code = raw.get("code")
    ov = raw.get("override")
    face = raw.get("face")
    return IdentityStatus(
        participant_id=pid,
        hearing_id=hid,
        steps={
            IdentityStep(k): StepRecord(
                passed_at=parse_dt(v["passed_at"]),
                failures=int(v["failures"]),
                locked_until=parse_dt(v["locked_until"]),
            )
            for k, v in raw.get("steps", {}).items()
        },
        code=None
        if code is None
        else CodeChallenge(
            digest=code["digest"],
            issued_at=_req(code["issued_at"]),
            expires_at=_req(code["expires_at"]),
            tries=int(code["tries"]),
            used=bool(code["used"]),
            spent=bool(code["spent"]),
        ),
        override=None
        if ov is None
        else Override(
            outcome=IdentityOutcome(ov["outcome"]),
            by=ov["by"],
            reason=ov["reason"],
            at=_req(ov["at"]),
            pending=tuple(IdentityStep(p) for p in ov["pending"]),
        ),
        help_requested_at=parse_dt(raw.get("help_requested_at")),
        face=None
        if face is None
        else FaceOutcome(
            decision=face["decision"],
            distance=face["distance"],
            threshold=float(face["threshold"]),
            liveness=face["liveness"],
            reason=face["reason"],
            at=_req(face["at"]),
        ),
    )


class RowLike(Protocol):
    """A database row read by column name (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: str) -> Any: ...


def registration_from_row(row: RowLike) -> Registration:
    """A registration from a row of ``identity_registrations`` (either store's)."""
    return Registration(
        participant_id=row["participant_id"],
        hearing_id=row["hearing_id"],
        legal_name=row["legal_name"],
        id_type=IdType(row["id_type"]),
        id_digest=row["id_digest"],
        id_last4=row["id_last4"],
        phone=row["phone"],
        email=row["email"],
        registered_at=_req(row["registered_at"]),
        registered_by=row["registered_by"],
    )


class SQLiteIdentity(SQLiteConnection):
    """The ``identity_policies``, ``identity_registrations`` and ``identity_status`` tables."""

    async def get_identity_policy(self, hearing_id: str) -> IdentityPolicy | None:
        async with self.db.execute(
            "SELECT policy FROM identity_policies WHERE hearing_id = ?", (hearing_id,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else IdentityPolicy.from_json(json.loads(row["policy"]))

    async def set_identity_policy(self, hearing_id: str, policy: IdentityPolicy) -> None:
        async with self._write_lock:
            await self.db.execute(
                "INSERT OR REPLACE INTO identity_policies (hearing_id, policy) VALUES (?, ?)",
                (hearing_id, json.dumps(policy.to_json())),
            )
            await self.db.commit()

    async def put_registration(self, registration: Registration) -> None:
        r = registration
        async with self._write_lock:
            await self.db.execute(
                "INSERT OR REPLACE INTO identity_registrations (participant_id, hearing_id, "
                "legal_name, id_type, id_digest, id_last4, phone, email, registered_at, "
                "registered_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    r.participant_id,
                    r.hearing_id,
                    r.legal_name,
                    r.id_type.value,
                    r.id_digest,
                    r.id_last4,
                    r.phone,
                    r.email,
                    format_dt(r.registered_at),
                    r.registered_by,
                ),
            )
            await self.db.commit()

    async def get_registration(self, participant_id: str) -> Registration | None:
        async with self.db.execute(
            "SELECT * FROM identity_registrations WHERE participant_id = ?", (participant_id,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else registration_from_row(row)

    async def list_registrations(self, hearing_id: str) -> list[Registration]:
        async with self.db.execute(
            "SELECT * FROM identity_registrations WHERE hearing_id = ? ORDER BY rowid",
            (hearing_id,),
        ) as cur:
            rows = await cur.fetchall()
        return [registration_from_row(r) for r in rows]

    async def get_identity_status(self, participant_id: str) -> IdentityStatus | None:
        async with self.db.execute(
            "SELECT * FROM identity_status WHERE participant_id = ?", (participant_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return status_from_json(row["participant_id"], row["hearing_id"], json.loads(row["data"]))

    async def put_identity_status(self, status: IdentityStatus) -> None:
        async with self._write_lock:
            await self.db.execute(
                "INSERT OR REPLACE INTO identity_status (participant_id, hearing_id, data) "
                "VALUES (?, ?, ?)",
                (status.participant_id, status.hearing_id, json.dumps(status_to_json(status))),
            )
            await self.db.commit()

    async def list_identity_status(self, hearing_id: str) -> list[IdentityStatus]:
        async with self.db.execute(
            "SELECT * FROM identity_status WHERE hearing_id = ? ORDER BY rowid", (hearing_id,)
        ) as cur:
            rows = await cur.fetchall()
        return [
            status_from_json(r["participant_id"], r["hearing_id"], json.loads(r["data"]))
            for r in rows
        ]
