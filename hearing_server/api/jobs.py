"""The job queue for operators (admin key): counts by state, the runner's health, and the
jobs themselves without their payloads (a message's text may hold a tracking link)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hearing_server.core.jobs import Job, JobState
from hearing_server.keys import JOBS, STORE

from .auth import is_admin
from .errors import ApiError


def _job(job: Job) -> dict[str, Any]:
    def at(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": job.id,
        "kind": job.kind,
        "key": job.key,
        "state": job.state.value,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "due_at": at(job.due_at),
        "created_at": at(job.created_at),
        "finished_at": at(job.finished_at),
        "locked_until": at(job.locked_until),
        "last_error": job.last_error,
    }


async def list_jobs(request: web.Request) -> web.Response:
    if not is_admin(request):
        raise ApiError(401, "unauthorized", "only the admin API key may read the job queue")
    raw_state = request.query.get("state")
    try:
        state = JobState(raw_state) if raw_state else None
    except ValueError:
        states = ", ".join(s.value for s in JobState)
        raise ApiError(400, "invalid_value", f"state must be one of {states}") from None
    raw_limit = request.query.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise ApiError(400, "invalid_value", "limit must be a number from 1 to 1000")
    store = request.app[STORE]
    jobs = await store.list_jobs(
        state=state, kind=request.query.get("kind") or None, limit=int(raw_limit)
    )
    counts = await store.count_jobs()
    return web.json_response(
        {
            "runner": request.app[JOBS].health.to_json(),
            "counts": {s.value: n for s, n in counts.items()},
            "jobs": [_job(j) for j in jobs],
        }
    )
