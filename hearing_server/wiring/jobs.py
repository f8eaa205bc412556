"""The durable job queue: the runner over the store, with the message handler registered.

Installed after the foundation (its store opens first and closes last); the runner starts
once the store is open and stops, letting jobs in flight finish, before it closes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hearing_server import keys
from hearing_server.core.jobs import RetryPolicy
from hearing_server.service.jobs import JobRunner
from hearing_server.service.message_jobs import MESSAGE_JOB, message_handler

from .identity import build_channel_sender


def install_jobs(app: web.Application) -> None:
    """The job runner (``keys.JOBS``) and the sender its message jobs use."""
    settings = app[keys.SETTINGS]
    runner = JobRunner(
        app[keys.STORE],
        lease_s=settings.jobs_lease_seconds,
        poll_s=settings.jobs_poll_seconds,
        concurrency=settings.jobs_concurrency,
        batch=max(settings.jobs_concurrency, 1),
        policy=RetryPolicy(first_s=settings.jobs_retry_seconds),
        max_attempts=settings.jobs_max_attempts,
    )
    # Its own sender, trying once: the queue does the retrying, durably, with backoff.
    sender = build_channel_sender(settings)
    runner.register(MESSAGE_JOB, message_handler(sender))
    app[keys.JOBS] = runner

    async def run(_: web.Application) -> AsyncIterator[None]:
        if settings.jobs_enabled:
            runner.start()
        yield
        await runner.close(grace=settings.shutdown_grace_seconds / 2)
        await sender.close()

    app.cleanup_ctx.append(run)
