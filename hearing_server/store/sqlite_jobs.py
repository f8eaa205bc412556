"""SQLite storage of the job queue (:class:`~.jobs.JobStore`)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.jobs import Job, JobState

from .sqlite_connection import SQLiteConnection
from .sqlite_connection import sortable_dt as _at

_COLS = (
    "id, kind, job_key, payload, state, due_at, created_at, attempts, max_attempts, "
    "last_error, locked_by, locked_until, finished_at"
)


def _read_at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _job(row: Any) -> Job:
    due, created = _read_at(row[5]), _read_at(row[6])
    assert due is not None and created is not None
    return Job(
        id=row[0],
        kind=row[1],
        key=row[2],
        payload=json.loads(row[3]),
        state=JobState(row[4]),
        due_at=due,
        created_at=created,
        attempts=row[7],
        max_attempts=row[8],
        last_error=row[9],
        locked_by=row[10],
        locked_until=_read_at(row[11]),
        finished_at=_read_at(row[12]),
    )


class SQLiteJobs(SQLiteConnection):
    """The ``jobs`` table. One SQLite file has one server, whose write lock orders claims."""

    async def enqueue_job(self, job: Job) -> tuple[Job, bool]:
        async with self._write_lock:
            if job.key is not None:
                async with self.db.execute(
                    f"SELECT {_COLS} FROM jobs WHERE job_key = ?", (job.key,)
                ) as cur:
                    row = await cur.fetchone()
                if row is not None:
                    return _job(row), False
            try:
                await self.db.execute(
                    f"INSERT INTO jobs ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        job.id,
                        job.kind,
                        job.key,
                        json.dumps(job.payload, ensure_ascii=False),
                        job.state.value,
                        _at(job.due_at),
                        _at(job.created_at),
                        job.attempts,
                        job.max_attempts,
                        job.last_error,
                        job.locked_by,
                        _at(job.locked_until),
                        _at(job.finished_at),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                await self.db.rollback()
                raise Conflict(f"job {job.id} cannot be stored: {exc}") from None
            await self.db.commit()
        return job, True

    async def claim_jobs(
        self, *, worker: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Job]:
        at = _at(now)
        async with self._write_lock:
            # Pick, then update, then read back, each statement run to its end (no RETURNING:
            # a RETURNING statement shares the connection with readers and is best avoided).
            async with self.db.execute(
                "SELECT id FROM jobs WHERE (state = 'pending' AND due_at <= ?) "
                "OR (state = 'running' AND locked_until <= ?) ORDER BY due_at, id LIMIT ?",
                (at, at, limit),
            ) as cur:
                ids = [r[0] for r in await cur.fetchall()]
            if not ids:
                return []
            marks = ", ".join("?" for _ in ids)
            await self.db.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = ?, "
                f"locked_until = ? WHERE id IN ({marks})",
                (worker, _at(lease_until), *ids),
            )
            async with self.db.execute(
                f"SELECT {_COLS} FROM jobs WHERE id IN ({marks})", ids
            ) as cur:
                rows = await cur.fetchall()
            await self.db.commit()
        return sorted((_job(r) for r in rows), key=lambda j: (j.due_at, j.id))

    async def settle_job(self, job: Job, *, worker: str) -> bool:
        async with self._write_lock:
            cur = await self.db.execute(
                "UPDATE jobs SET state = ?, due_at = ?, last_error = ?, locked_by = NULL, "
                "locked_until = NULL, finished_at = ? "
                "WHERE id = ? AND state = 'running' AND locked_by = ?",
                (
                    job.state.value,
                    _at(job.due_at),
                    job.last_error,
                    _at(job.finished_at),
                    job.id,
                    worker,
                ),
            )
            await self.db.commit()
        return cur.rowcount == 1

    async def get_job(self, job_id: str) -> Job:
        async with self.db.execute(f"SELECT {_COLS} FROM jobs WHERE id = ?", (job_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"no job {job_id}")
        return _job(row)

    async def list_jobs(
        self, *, state: JobState | None = None, kind: str | None = None, limit: int = 100
    ) -> list[Job]:
        where: list[str] = []
        args: list[object] = []
        if state is not None:
            where.append("state = ?")
            args.append(state.value)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        async with self.db.execute(
            f"SELECT {_COLS} FROM jobs {clause}ORDER BY created_at DESC, id LIMIT ?",
            (*args, limit),
        ) as cur:
            return [_job(r) for r in await cur.fetchall()]

    async def count_jobs(self) -> dict[JobState, int]:
        counts = dict.fromkeys(JobState, 0)
        # Under the write lock: a write on this one connection between the query's first step
        # and its last (aiosqlite runs them as separate calls) left SQLite's grouping
        # undefined, and a count once came back with a state of NULL (a drain failed on it).
        async with (
            self._write_lock,
            self.db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state") as cur,
        ):
            rows = await cur.fetchall()
        for row in rows:
            counts[JobState(row[0])] = int(row[1])
        return counts

    async def next_job_due(self) -> datetime | None:
        async with self.db.execute(
            "SELECT MIN(t) FROM (SELECT MIN(due_at) AS t FROM jobs WHERE state = 'pending' "
            "UNION ALL SELECT MIN(locked_until) FROM jobs WHERE state = 'running')"
        ) as cur:
            row = await cur.fetchone()
        return _read_at(row[0]) if row is not None else None
