"""PostgreSQL storage of hearings and participants (:class:`~.hearings.HearingStore`)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.hearing import Hearing, HearingKind, HearingState, Visibility
from hearing_server.core.participant import Participant, ParticipantState, PartySide, Role

from .postgres_connection import PostgresConnection, affected, storable, text_checked, to_utc

_HEARING_COLUMNS = (
    "id, kind, case_number, court, title, scheduled_start, scheduled_end, visibility, state, "
    "actual_start, actual_end, next_sitting_id, created_at, layout, extra"
)
_PARTICIPANT_COLUMNS = (
    "id, hearing_id, role, display_name, state, side, represents, interprets_for, language, "
    "resume_state, audio_muted, mute_locked, hand_raised, removed, hand_raised_at, "
    "sworn_at"
)


def _hearing_from_row(row: Any) -> Hearing:
    return Hearing(
        id=row["id"],
        kind=HearingKind(row["kind"]),
        case_number=row["case_number"],
        court=row["court"],
        title=row["title"],
        scheduled_start=row["scheduled_start"],
        scheduled_end=row["scheduled_end"],
        visibility=Visibility(row["visibility"]),
        state=HearingState(row["state"]),
        actual_start=row["actual_start"],
        actual_end=row["actual_end"],
        next_sitting_id=row["next_sitting_id"],
        created_at=row["created_at"],
        layout=row["layout"],
        extra=json.loads(row["extra"]),
    )


def _participant_from_row(row: Any) -> Participant:
    return Participant(
        id=row["id"],
        hearing_id=row["hearing_id"],
        role=Role(row["role"]),
        display_name=row["display_name"],
        state=ParticipantState(row["state"]),
        side=PartySide(row["side"]) if row["side"] else None,
        represents=row["represents"],
        interprets_for=row["interprets_for"],
        language=row["language"],
        resume_state=ParticipantState(row["resume_state"]) if row["resume_state"] else None,
        audio_muted=row["audio_muted"],
        mute_locked=row["mute_locked"],
        hand_raised=row["hand_raised"],
        hand_raised_at=row["hand_raised_at"],
        sworn_at=row["sworn_at"],
        removed=row["removed"],
    )


def _hearing_values(h: Hearing) -> tuple[Any, ...]:
    """In the order of ``_HEARING_COLUMNS``."""
    return (
        h.id,
        h.kind.value,
        h.case_number,
        h.court,
        h.title,
        to_utc(h.scheduled_start),
        to_utc(h.scheduled_end),
        h.visibility.value,
        h.state.value,
        to_utc(h.actual_start),
        to_utc(h.actual_end),
        h.next_sitting_id,
        to_utc(h.created_at),
        h.layout,
        json.dumps(h.extra, ensure_ascii=False),
    )


def _participant_values(p: Participant) -> tuple[Any, ...]:
    """In the order of ``_PARTICIPANT_COLUMNS``."""
    return (
        p.id,
        p.hearing_id,
        p.role.value,
        p.display_name,
        p.state.value,
        p.side.value if p.side is not None else None,
        p.represents,
        p.interprets_for,
        p.language,
        p.resume_state.value if p.resume_state is not None else None,
        p.audio_muted,
        p.mute_locked,
        p.hand_raised,
        p.removed,
        to_utc(p.hand_raised_at),
        to_utc(p.sworn_at),
    )


def _placeholders(count: int) -> str:
    return ", ".join(f"${i}" for i in range(1, count + 1))


def _assignments(columns: str) -> str:
    """``b = $2, c = $3`` for the columns after the first (the id, ``$1``)."""
    names = [c.strip() for c in columns.split(",")]
    return ", ".join(f"{name} = ${i}" for i, name in enumerate(names[1:], start=2))


class PostgresHearings(PostgresConnection):
    """The ``hearings`` and ``participants`` tables."""

    # -- hearings ---------------------------------------------------------------------------

    async def create_hearing(self, hearing: Hearing) -> None:
        values = _hearing_values(hearing)
        try:
            with text_checked("the hearing"):
                await self.pool.execute(
                    f"INSERT INTO hearings ({_HEARING_COLUMNS}) "
                    f"VALUES ({_placeholders(len(values))})",
                    *values,
                )
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise Conflict(f"hearing {hearing.id} exists") from exc

    async def get_hearing(self, hearing_id: str) -> Hearing:
        row = None
        if storable(hearing_id):
            row = await self.pool.fetchrow(
                f"SELECT {_HEARING_COLUMNS} FROM hearings WHERE id = $1", hearing_id
            )
        if row is None:
            raise NotFound(f"no hearing {hearing_id}")
        return _hearing_from_row(row)

    async def list_hearings(
        self, *, state: HearingState | None = None, limit: int = 100, offset: int = 0
    ) -> list[Hearing]:
        # SQLite's LIMIT and OFFSET semantics, which PostgreSQL refuses as errors: a negative
        # limit means none, a negative offset counts as 0.
        args: list[Any] = [limit if limit >= 0 else None, max(offset, 0)]
        where = ""
        if state is not None:
            where = " WHERE state = $3"
            args.append(state.value)
        rows = await self.pool.fetch(
            f"SELECT {_HEARING_COLUMNS} FROM hearings{where} "
            "ORDER BY scheduled_start, id LIMIT $1 OFFSET $2",
            *args,
        )
        return [_hearing_from_row(r) for r in rows]

    async def update_hearing(self, hearing: Hearing) -> None:
        values = _hearing_values(hearing)
        status = "UPDATE 0"
        if storable(hearing.id):
            with text_checked("the hearing"):
                status = await self.pool.execute(
                    f"UPDATE hearings SET {_assignments(_HEARING_COLUMNS)} WHERE id = $1",
                    *values,
                )
        if affected(status) == 0:
            raise NotFound(f"no hearing {hearing.id}")

    # -- participants -----------------------------------------------------------------------

    async def add_participant(self, participant: Participant) -> None:
        values = _participant_values(participant)
        try:
            with text_checked("the participant"):
                await self.pool.execute(
                    f"INSERT INTO participants ({_PARTICIPANT_COLUMNS}) "
                    f"VALUES ({_placeholders(len(values))})",
                    *values,
                )
        except asyncpg.IntegrityConstraintViolationError as exc:
            # As in SQLite: a duplicate id, or a hearing that does not exist.
            raise Conflict(f"participant {participant.id} exists") from exc

    async def get_participant(self, participant_id: str) -> Participant:
        row = None
        if storable(participant_id):
            row = await self.pool.fetchrow(
                f"SELECT {_PARTICIPANT_COLUMNS} FROM participants WHERE id = $1", participant_id
            )
        if row is None:
            raise NotFound(f"no participant {participant_id}")
        return _participant_from_row(row)

    async def list_participants(self, hearing_id: str) -> list[Participant]:
        if not storable(hearing_id):
            return []
        rows = await self.pool.fetch(
            f"SELECT {_PARTICIPANT_COLUMNS} FROM participants WHERE hearing_id = $1 "
            "ORDER BY position",
            hearing_id,
        )
        return [_participant_from_row(r) for r in rows]

    async def update_participant(self, participant: Participant) -> None:
        values = _participant_values(participant)
        status = "UPDATE 0"
        if storable(participant.id):
            with text_checked("the participant"):
                status = await self.pool.execute(
                    f"UPDATE participants SET {_assignments(_PARTICIPANT_COLUMNS)} WHERE id = $1",
                    *values,
                )
        if affected(status) == 0:
            raise NotFound(f"no participant {participant.id}")
