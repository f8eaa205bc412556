"""Durable jobs: work that must happen later or again (a message to send, a reminder due at a
given time) and must survive a restart.

A job is stored before anything is done for it. A runner *claims* due jobs: each claim takes a
lease (the job is ``running`` until ``locked_until``) and counts an attempt. The job then ends
``done``, goes back to ``pending`` with a later ``due_at`` (a retry, after a backoff), or ends
``dead`` (failed for good: the last error is kept for the operator). A server killed mid-job
leaves it ``running`` with a lease that runs out; the next claim after that takes it again.

So a job runs *at least* once. Sending it twice is avoided where it can be: the job's id
travels with what it sends as an idempotency key, so a gateway (or a mail reader) that sees
the same key again knows it is a repeat. The only window is between a gateway taking a
message and the store recording that: a server killed exactly there repeats the send with the
same key.

A job may carry a ``key``: enqueueing a second job with the same key returns the first one,
so a use case that runs again (a reminder planned twice) does not create the work twice.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .errors import ValidationError

MAX_ERROR = 1000
"""Errors are kept this long (characters); the rest is in the log."""


class JobState(StrEnum):
    """Where a job is in its life."""

    PENDING = "pending"  # waiting for due_at (first time or a retry)
    RUNNING = "running"  # claimed; the lease runs until locked_until
    DONE = "done"
    DEAD = "dead"  # failed for good (not retryable, or out of attempts)


@dataclass(frozen=True, slots=True)
class Job:
    """One stored job. ``payload`` is JSON-compatible data the job's handler reads."""

    id: str
    kind: str
    payload: dict[str, Any]
    due_at: datetime
    created_at: datetime
    key: str | None = None
    state: JobState = JobState.PENDING
    attempts: int = 0
    max_attempts: int = 6
    last_error: str | None = None
    locked_by: str | None = None
    locked_until: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait before trying a failed job again: ``first_s``, then ``factor`` times
    that, and so on, never more than ``cap_s``."""

    first_s: float = 30.0
    factor: float = 2.0
    cap_s: float = 3600.0

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1 for the first)."""
        seconds = self.first_s * self.factor ** max(0, attempts - 1)
        return timedelta(seconds=min(seconds, self.cap_s))


def new_job(
    kind: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    due_at: datetime | None = None,
    key: str | None = None,
    max_attempts: int = 6,
) -> Job:
    """A pending job with a fresh unguessable id, due at ``due_at`` (default: now)."""
    if not kind or len(kind) > 100:
        raise ValidationError("a job needs a kind of at most 100 characters")
    if key is not None and not 0 < len(key) <= 200:
        raise ValidationError("a job key must be 1 to 200 characters")
    if max_attempts < 1:
        raise ValidationError("max_attempts must be at least 1")
    if due_at is not None and due_at.tzinfo is None:
        raise ValidationError("due_at must carry a time zone")
    try:
        json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"a job's payload must be JSON data: {exc}") from None
    return Job(
        id=f"job-{secrets.token_hex(12)}",
        kind=kind,
        payload=payload,
        due_at=due_at or now,
        created_at=now,
        key=key,
        max_attempts=max_attempts,
    )


def after_failure(
    job: Job, error: str, *, now: datetime, policy: RetryPolicy, retryable: bool
) -> Job:
    """The job after a failed attempt: back to pending after the policy's delay, or dead when
    the failure is not retryable or the attempts are used up."""
    error = error[:MAX_ERROR]
    if not retryable or job.attempts >= job.max_attempts:
        return replace(
            job,
            state=JobState.DEAD,
            last_error=error,
            locked_by=None,
            locked_until=None,
            finished_at=now,
        )
    return replace(
        job,
        state=JobState.PENDING,
        due_at=now + policy.delay(job.attempts),
        last_error=error,
        locked_by=None,
        locked_until=None,
    )
