"""The job runner on a real SQLite store: due jobs run once, failures are retried with backoff
and end dead when they cannot succeed (reported), jobs due later wait, closing lets work in
flight finish, and message jobs go through a real sender with the job's id as their key."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hearing_server.core.errors import ValidationError
from hearing_server.core.jobs import Job, JobState, RetryPolicy
from hearing_server.service.jobs import JobError, JobRunner
from hearing_server.service.message_jobs import MESSAGE_JOB, message_handler, message_payload
from hearing_server.store.sqlite import SQLiteStore
from messaging import OutboxSender, SmtpSecurity, SmtpSender, read_outbox

FAST = RetryPolicy(first_s=0.05, cap_s=0.2)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "db.sqlite3")
    await s.open()
    yield s
    await s.close()


async def test_due_jobs_run_once_and_later_ones_when_due(store: SQLiteStore) -> None:
    ran: list[tuple[str, datetime]] = []

    async def work(job: Job) -> None:
        ran.append((job.payload["name"], datetime.now(UTC)))

    runner = JobRunner(store, poll_s=5.0, policy=FAST)
    runner.register("work", work)
    runner.start()
    try:
        for n in range(10):
            await runner.enqueue("work", {"name": f"now-{n}"})
        later = datetime.now(UTC) + timedelta(seconds=0.4)
        await runner.enqueue("work", {"name": "later"}, due_at=later)
        _, created = await runner.enqueue("work", {"name": "keyed"}, key="k1")
        _, again = await runner.enqueue("work", {"name": "keyed twice"}, key="k1")
        assert created and not again
        assert await runner.drain(5.0)
        await asyncio.sleep(0.6)
        assert await runner.drain(5.0)
    finally:
        await runner.close()
    names = [n for n, _ in ran]
    assert sorted(names) == sorted([f"now-{n}" for n in range(10)] + ["later", "keyed"])
    # The runner slept until the job was due, not for its 5 s poll.
    assert later <= dict(ran)["later"] < later + timedelta(seconds=1)
    assert (await store.count_jobs())[JobState.DONE] == 12
    assert runner.health.done == 12 and runner.health.dead == 0


async def test_failures_retry_with_backoff_then_die_and_are_reported(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: dict[str, list[datetime]] = {}
    reported: list[tuple[str, str]] = []

    async def flaky(job: Job) -> None:
        attempts.setdefault(job.payload["name"], []).append(datetime.now(UTC))
        if job.payload["name"] == "recovers" and job.attempts < 3:
            raise JobError("gateway 503")
        if job.payload["name"] == "refused":
            raise JobError("recipient refused", retryable=False)
        if job.payload["name"] == "broken":
            raise RuntimeError("handler bug")

    async def report(job: Job, error: str) -> None:
        reported.append((job.payload["name"], error))

    runner = JobRunner(store, poll_s=5.0, policy=FAST, max_attempts=4, on_failure=report)
    runner.register("flaky", flaky)
    runner.start()
    try:
        for name in ("recovers", "refused", "broken"):
            await runner.enqueue("flaky", {"name": name})
        await runner.enqueue("nobody-handles-this", {"name": "orphan"})
        with caplog.at_level(logging.WARNING):
            deadline = asyncio.get_running_loop().time() + 10
            while runner.health.done + runner.health.dead < 4:
                assert asyncio.get_running_loop().time() < deadline, runner.health
                await asyncio.sleep(0.05)
    finally:
        await runner.close()
    assert len(attempts["recovers"]) == 3 and len(attempts["refused"]) == 1
    assert len(attempts["broken"]) == 4  # every attempt the job allows
    times = attempts["broken"]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # backoff: 0.05 s, then doubled
    assert sorted(reported) == [
        ("broken", "RuntimeError: handler bug"),
        ("orphan", "no handler for jobs of kind nobody-handles-this"),
        ("refused", "recipient refused"),
    ]
    dead = {j.payload["name"]: j for j in await store.list_jobs(state=JobState.DEAD)}
    assert set(dead) == {"broken", "orphan", "refused"}
    assert dead["broken"].last_error == "RuntimeError: handler bug"
    assert (await store.count_jobs())[JobState.DONE] == 1
    assert runner.health.dead == 3 and runner.health.retried == 5
    assert "failed for good" in caplog.text


async def test_close_lets_jobs_in_flight_finish(store: SQLiteStore) -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def slow(job: Job) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.append(job.id)

    runner = JobRunner(store, policy=FAST)
    runner.register("slow", slow)
    runner.start()
    job, _ = await runner.enqueue("slow", {})
    await asyncio.wait_for(started.wait(), 5)
    await runner.close(grace=5)
    assert finished == [job.id]
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert not runner.health.running


async def test_message_jobs_send_with_the_job_id_as_key(store: SQLiteStore, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    runner = JobRunner(store, policy=FAST, max_attempts=2)
    runner.register(MESSAGE_JOB, message_handler(OutboxSender(outbox)))
    runner.start()
    try:
        job, _ = await runner.enqueue(
            MESSAGE_JOB, message_payload(" 13800138000 ", "传票", "请于12月8日9:00参加庭审")
        )
        assert await runner.drain(5.0)
    finally:
        await runner.close()
    [entry] = read_outbox(outbox)
    assert (entry.recipient, entry.subject, entry.text) == (
        "13800138000",
        "传票",
        "请于12月8日9:00参加庭审",
    )
    assert (await store.get_job(job.id)).state is JobState.DONE
    with pytest.raises(ValidationError):
        message_payload("", "s", "t")
    with pytest.raises(ValidationError):
        message_payload("a@b.cn", "s", "x" * 5000)


async def test_a_refused_address_ends_the_job_without_retries(store: SQLiteStore) -> None:
    # A real SMTP sender refuses a recipient that is no e-mail address before connecting.
    smtp = SmtpSender(
        host="127.0.0.1", port=9, sender="court@example.cn", security=SmtpSecurity.NONE
    )
    runner = JobRunner(store, policy=FAST, max_attempts=5)
    runner.register(MESSAGE_JOB, message_handler(smtp))
    runner.start()
    try:
        job, _ = await runner.enqueue(MESSAGE_JOB, message_payload("13800138000", "s", "t"))
        assert await runner.drain(5.0)
    finally:
        await runner.close()
    stored = await store.get_job(job.id)
    assert (stored.state, stored.attempts) == (JobState.DEAD, 1)
    assert "is not an e-mail address" in (stored.last_error or "")
