"""The durable job queue (:mod:`hearing_server.core.jobs`)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from hearing_server.core.jobs import Job, JobState


class JobStore(Protocol):
    """Jobs: enqueued once (per key), claimed with a lease, finished by their claimant."""

    async def enqueue_job(self, job: Job) -> tuple[Job, bool]:
        """Store ``job``; when it has a ``key`` another job already holds, store nothing and
        return that job. Returns the stored job and whether it was new."""
        ...

    async def claim_jobs(
        self, *, worker: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Job]:
        """Take up to ``limit`` jobs that are due (pending with ``due_at <= now``, or running
        with a lease that ran out), earliest first: each becomes ``running``, locked by
        ``worker`` until ``lease_until``, with one more attempt counted. Two claims, even
        from two servers on one database, never take the same job."""
        ...

    async def settle_job(self, job: Job, *, worker: str) -> bool:
        """Write ``job``'s outcome (``done``, ``dead`` or ``pending`` again with its new due
        time and error) if ``worker`` still holds it. Returns False, writing nothing, when
        the lease was lost (the job ran out its lease and was claimed again)."""
        ...

    async def get_job(self, job_id: str) -> Job:
        """One job. Raises ``NotFound``."""
        ...

    async def list_jobs(
        self, *, state: JobState | None = None, kind: str | None = None, limit: int = 100
    ) -> list[Job]:
        """Jobs, most recently created first, optionally of one state and kind."""
        ...

    async def count_jobs(self) -> dict[JobState, int]:
        """How many jobs are in each state (every state present, zero or not)."""
        ...

    async def next_job_due(self) -> datetime | None:
        """When the next pending job is due, or when the earliest lease runs out; None when
        there is nothing to wait for."""
        ...
