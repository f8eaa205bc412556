"""PostgreSQL storage of the job queue (:class:`~.jobs.JobStore`).

Several servers may share one database: a claim takes its rows with ``FOR UPDATE SKIP LOCKED``,
so two claims at once take different jobs and neither waits for the other.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.jobs import Job, JobState

from .postgres_connection import PostgresConnection, affected, storable, text_checked, to_utc

_COLS = (
    "id, kind, job_key, payload, state, due_at, created_at, attempts, max_attempts, "
    "last_error, locked_by, locked_until, finished_at"
)


def _job(row: Any) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        key=row["job_key"],
        payload=json.loads(row["payload"]),
        state=JobState(row["state"]),
        due_at=row["due_at"],
        created_at=row["created_at"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        last_error=row["last_error"],
        locked_by=row["locked_by"],
        locked_until=row["locked_until"],
        finished_at=row["finished_at"],
    )


class PostgresJobs(PostgresConnection):
    """The ``jobs`` table."""

    async def enqueue_job(self, job: Job) -> tuple[Job, bool]:
        with text_checked("the job"):
            try:
                row = await self.pool.fetchrow(
                    f"INSERT INTO jobs ({_COLS}) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
                    "ON CONFLICT (job_key) DO NOTHING RETURNING id",
                    job.id,
                    job.kind,
                    job.key,
                    json.dumps(job.payload, ensure_ascii=False),
                    job.state.value,
                    to_utc(job.due_at),
                    to_utc(job.created_at),
                    job.attempts,
                    job.max_attempts,
                    job.last_error,
                    job.locked_by,
                    to_utc(job.locked_until),
                    to_utc(job.finished_at),
                )
            except asyncpg.UniqueViolationError as exc:
                raise Conflict(f"job {job.id} cannot be stored: {exc}") from None
        if row is not None:
            return job, True
        existing = await self.pool.fetchrow(f"SELECT {_COLS} FROM jobs WHERE job_key = $1", job.key)
        if existing is None:  # the holder of the key was deleted meanwhile: nothing does that
            raise Conflict(f"job key {job.key} is taken")
        return _job(existing), False

    async def claim_jobs(
        self, *, worker: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Job]:
        rows = await self.pool.fetch(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $1, "
            "locked_until = $2 WHERE id IN (SELECT id FROM jobs WHERE "
            "(state = 'pending' AND due_at <= $3) OR (state = 'running' AND locked_until <= $3) "
            f"ORDER BY due_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING {_COLS}",
            worker,
            to_utc(lease_until),
            to_utc(now),
            limit,
        )
        return sorted((_job(r) for r in rows), key=lambda j: (j.due_at, j.id))

    async def settle_job(self, job: Job, *, worker: str) -> bool:
        with text_checked("the job's outcome"):
            status = await self.pool.execute(
                "UPDATE jobs SET state = $1, due_at = $2, last_error = $3, locked_by = NULL, "
                "locked_until = NULL, finished_at = $4 "
                "WHERE id = $5 AND state = 'running' AND locked_by = $6",
                job.state.value,
                to_utc(job.due_at),
                job.last_error,
                to_utc(job.finished_at),
                job.id,
                worker,
            )
        return affected(status) == 1

    async def get_job(self, job_id: str) -> Job:
        row = (
            await self.pool.fetchrow(f"SELECT {_COLS} FROM jobs WHERE id = $1", job_id)
            if storable(job_id)
            else None
        )
        if row is None:
            raise NotFound(f"no job {job_id}")
        return _job(row)

    async def list_jobs(
        self, *, state: JobState | None = None, kind: str | None = None, limit: int = 100
    ) -> list[Job]:
        if kind is not None and not storable(kind):
            return []
        where: list[str] = []
        args: list[object] = []
        if state is not None:
            args.append(state.value)
            where.append(f"state = ${len(args)}")
        if kind is not None:
            args.append(kind)
            where.append(f"kind = ${len(args)}")
        args.append(limit)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = await self.pool.fetch(
            f"SELECT {_COLS} FROM jobs {clause}ORDER BY created_at DESC, id LIMIT ${len(args)}",
            *args,
        )
        return [_job(r) for r in rows]

    async def count_jobs(self) -> dict[JobState, int]:
        counts = dict.fromkeys(JobState, 0)
        for row in await self.pool.fetch("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state"):
            counts[JobState(row["state"])] = int(row["n"])
        return counts

    async def next_job_due(self) -> datetime | None:
        value: datetime | None = await self.pool.fetchval(
            "SELECT LEAST((SELECT MIN(due_at) FROM jobs WHERE state = 'pending'), "
            "(SELECT MIN(locked_until) FROM jobs WHERE state = 'running'))"
        )
        return value
