"""The job runner: claims due jobs from the store and runs each kind's handler.

One runner per server, started and closed by the app (``hearing_server.wiring.jobs``). It
sleeps until the next job is due (or ``poll_s``, for jobs another server enqueued), claims a
batch with a lease, runs up to ``concurrency`` handlers at once and records each outcome. A
handler raising :class:`JobError` with ``retryable=False`` ends the job ``dead`` at once; any
other exception is retried after the :class:`~hearing_server.core.jobs.RetryPolicy`'s backoff
until the job's attempts are used up. Every failure is logged; a dead job, and a runner loop
that cannot reach the store, are reported through ``on_failure`` (the server's log at ERROR
and :meth:`JobRunner.health`, which the admin API shows).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hearing_server.core.jobs import Job, JobState, RetryPolicy, after_failure, new_job
from hearing_server.store.jobs import JobStore

log = logging.getLogger(__name__)

Handler = Callable[[Job], Awaitable[None]]
"""Does one job's work; raises to fail it (see :class:`JobError`)."""

JobFailureReport = Callable[[Job, str], Awaitable[None]]
"""Called with a job that ended dead and its last error."""


class JobError(Exception):
    """A job's work failed. ``retryable`` False: trying again cannot help (a refused
    recipient, a payload the handler cannot read)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class RunnerHealth:
    """What the runner has done since it started, for operators."""

    worker: str
    running: bool = False
    done: int = 0
    retried: int = 0
    dead: int = 0
    lost_leases: int = 0
    loop_errors: int = 0
    last_error: str | None = None
    in_flight: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "running": self.running,
            "done": self.done,
            "retried": self.retried,
            "dead": self.dead,
            "lost_leases": self.lost_leases,
            "loop_errors": self.loop_errors,
            "last_error": self.last_error,
            "in_flight": len(self.in_flight),
        }


class JobRunner:
    """Runs the store's due jobs through the handlers registered for their kinds."""

    def __init__(
        self,
        store: JobStore,
        *,
        lease_s: float = 60.0,
        poll_s: float = 5.0,
        batch: int = 20,
        concurrency: int = 4,
        policy: RetryPolicy | None = None,
        max_attempts: int = 6,
        clock: Callable[[], datetime] = _now,
        on_failure: JobFailureReport | None = None,
    ) -> None:
        if concurrency < 1 or batch < 1:
            raise ValueError("batch and concurrency must be at least 1")
        self._store = store
        self._handlers: dict[str, Handler] = {}
        self._lease = timedelta(seconds=lease_s)
        self._poll_s = poll_s
        self._batch = batch
        self._concurrency = concurrency
        self._policy = policy or RetryPolicy()
        self._max_attempts = max_attempts
        self._now = clock
        self._on_failure = on_failure
        # A fresh name per start: a job claimed by an earlier life of this server is not ours
        # to settle; it waits for its lease to run out.
        self._worker = f"worker-{secrets.token_hex(6)}"
        self.health = RunnerHealth(self._worker)
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, kind: str, handler: Handler) -> None:
        """Run jobs of ``kind`` with ``handler``. Jobs of a kind nobody registered wait."""
        if kind in self._handlers:
            raise ValueError(f"a handler for {kind} is registered already")
        self._handlers[kind] = handler

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        due_at: datetime | None = None,
        key: str | None = None,
        max_attempts: int | None = None,
    ) -> tuple[Job, bool]:
        """Store a job (see :meth:`JobStore.enqueue_job` for ``key``) and wake the runner.
        Raises ``ValidationError`` for a bad kind, key or payload."""
        job = new_job(
            kind,
            payload,
            now=self._now(),
            due_at=due_at,
            key=key,
            max_attempts=max_attempts or self._max_attempts,
        )
        stored, created = await self._store.enqueue_job(job)
        if created:
            self._wake.set()
        return stored, created

    def start(self) -> None:
        """Start the loop; the app calls this once the store is open."""
        if self._loop_task is not None:
            raise RuntimeError("the job runner is started already")
        self.health.running = True
        self._loop_task = asyncio.create_task(self._loop(), name=f"jobs:{self._worker}")
        self._loop_task.add_done_callback(self._loop_ended)

    async def drain(self, timeout: float, *, horizon_s: float = 0.0) -> bool:
        """Wait until no job is in flight and none is due within ``horizon_s`` seconds
        (retries waiting for their backoff included); for tests and benchmarks. False on
        timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            due = await self._store.next_job_due()
            horizon = self._now() + timedelta(seconds=horizon_s)
            # Running jobs in the store too: a batch is claimed before it is in flight here.
            running = (await self._store.count_jobs())[JobState.RUNNING]
            if not self.health.in_flight and not running and (due is None or due > horizon):
                return True
            self._wake.set()
            await asyncio.sleep(0.02)
        return False

    async def close(self, grace: float = 10.0) -> None:
        """Stop claiming; let jobs in flight finish within ``grace`` seconds, then cancel
        them (a cancelled job stays ``running`` and is taken again when its lease runs out).
        Idempotent."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                log.warning("job runner: cancelling %s after %ss", task.get_name(), grace)
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self.health.running = False

    # -- internals --------------------------------------------------------------------------

    async def _loop(self) -> None:
        backoff = 0.5
        while not self._stopping:
            # Cleared before looking, not before sleeping: a wake that comes while claiming
            # is kept, and the sleep after it returns at once.
            self._wake.clear()
            try:
                claimed = await self._claim()
                backoff = 0.5
            except Exception as exc:  # the store is unreachable: keep trying, say so
                self.health.loop_errors += 1
                self.health.last_error = f"claiming jobs failed: {exc!r}"
                log.exception("job runner: claiming jobs failed; trying again in %ss", backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if claimed:
                continue  # there may be more due at once
            await self._sleep(await self._until_next())

    async def _claim(self) -> int:
        free = self._free_slots()
        if free == 0:
            await self._sleep(self._poll_s)
            return 0
        now = self._now()
        jobs = await self._store.claim_jobs(
            worker=self._worker,
            now=now,
            lease_until=now + self._lease,
            limit=min(self._batch, free),
        )
        for job in jobs:
            self.health.in_flight.add(job.id)
            task = asyncio.create_task(self._run(job), name=f"job:{job.kind}:{job.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(jobs)

    def _free_slots(self) -> int:
        # A batch never claims more than can start now: a claimed job waiting for a slot
        # would spend its lease waiting.
        return max(0, self._concurrency - len(self.health.in_flight))

    async def _until_next(self) -> float:
        due = await self._store.next_job_due()
        if due is None:
            return self._poll_s
        return min(self._poll_s, max(0.0, (due - self._now()).total_seconds()))

    async def _sleep(self, seconds: float) -> None:
        if self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _run(self, job: Job) -> None:
        try:
            await self._attempt(job)
        finally:
            self.health.in_flight.discard(job.id)
            self._wake.set()  # a slot is free again

    async def _attempt(self, job: Job) -> None:
        handler = self._handlers.get(job.kind)
        error: str | None = None
        retryable = True
        if handler is None:
            error, retryable = f"no handler for jobs of kind {job.kind}", False
        else:
            try:
                await handler(job)
            except asyncio.CancelledError:
                raise
            except JobError as exc:
                error, retryable = exc.message, exc.retryable
            except Exception as exc:
                log.exception("job runner: %s job %s raised", job.kind, job.id)
                error = f"{type(exc).__name__}: {exc}"
        now = self._now()
        if error is None:
            outcome = replace(
                job, state=JobState.DONE, locked_by=None, locked_until=None, finished_at=now
            )
        else:
            outcome = after_failure(job, error, now=now, policy=self._policy, retryable=retryable)
        try:
            settled = await self._store.settle_job(outcome, worker=self._worker)
        except Exception as exc:
            # Not recorded: the lease runs out and the job is taken again (with the same
            # idempotency key).
            self.health.loop_errors += 1
            self.health.last_error = f"recording job {job.id} failed: {exc!r}"
            log.exception("job runner: recording the outcome of job %s failed", job.id)
            return
        if not settled:
            self.health.lost_leases += 1
            log.warning("job runner: job %s outlived its lease; another claim has it", job.id)
            return
        if outcome.state is JobState.DONE:
            self.health.done += 1
        elif outcome.state is JobState.PENDING:
            self.health.retried += 1
            log.warning(
                "job runner: %s job %s failed (attempt %d of %d), again at %s: %s",
                job.kind,
                job.id,
                job.attempts,
                job.max_attempts,
                outcome.due_at.isoformat(),
                error,
            )
        else:
            self.health.dead += 1
            self.health.last_error = f"job {job.id} ({job.kind}) failed for good: {error}"
            log.error(
                "job runner: %s job %s failed for good after %d attempts: %s",
                job.kind,
                job.id,
                job.attempts,
                error,
            )
            if self._on_failure is not None:
                try:
                    await self._on_failure(outcome, error or "")
                except Exception:
                    log.exception("job runner: reporting dead job %s failed", job.id)

    def _loop_ended(self, task: asyncio.Task[None]) -> None:
        self.health.running = False
        if not task.cancelled() and task.exception() is not None:
            self.health.last_error = f"the job runner stopped: {task.exception()!r}"
            log.error("job runner stopped", exc_info=task.exception())
