"""The job queue's storage on both backends: enqueue once per key, claims that take each job
once (even two stores on one database at once), leases that run out, outcomes written only by
the job's holder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hearing_server.core.errors import Conflict, NotFound, ValidationError
from hearing_server.core.jobs import Job, JobState, RetryPolicy, after_failure, new_job
from hearing_server.store.base import Store
from hearing_server.store.postgres import PostgresStore
from support.stores import StoreBackend

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))
LEASE = timedelta(seconds=60)


@pytest.fixture
async def store(store_backend: StoreBackend) -> AsyncIterator[Store]:
    s = store_backend.store()
    await s.open()
    yield s
    await s.close()


def job(n: int, *, due: datetime = T0, key: str | None = None, **changes: object) -> Job:
    j = new_job("message.send", {"n": n, "text": "传票 ✓"}, now=T0, due_at=due, key=key)
    return replace(j, id=f"job-{n:03d}", **changes)


async def test_enqueue_once_per_key_and_read_back(store: Store) -> None:
    first = job(1, key="summons:h-1:p-1", due=T0.astimezone(BEIJING))
    assert await store.enqueue_job(first) == (first, True)
    again, created = await store.enqueue_job(job(2, key="summons:h-1:p-1"))
    assert (again, created) == (first, False)
    with pytest.raises(Conflict):
        await store.enqueue_job(job(1))  # the same id
    assert await store.get_job("job-001") == first
    assert (await store.get_job("job-001")).payload == {"n": 1, "text": "传票 ✓"}
    with pytest.raises(NotFound):
        await store.get_job("job-none")
    with pytest.raises(NotFound):
        await store.get_job("nul\0")
    counts = await store.count_jobs()
    assert counts[JobState.PENDING] == 1 and counts[JobState.DONE] == 0


async def test_claims_take_due_jobs_once_in_due_order(store: Store) -> None:
    for n, minutes in ((1, 5), (2, 0), (3, 10), (4, 1)):
        await store.enqueue_job(job(n, due=T0 + timedelta(minutes=minutes)))
    now = T0 + timedelta(minutes=5)
    assert await store.next_job_due() == T0
    got = await store.claim_jobs(worker="w1", now=now, lease_until=now + LEASE, limit=2)
    assert [j.id for j in got] == ["job-002", "job-004"]
    assert all(j.state is JobState.RUNNING and j.attempts == 1 and j.locked_by == "w1" for j in got)
    rest = await store.claim_jobs(worker="w2", now=now, lease_until=now + LEASE, limit=10)
    assert [j.id for j in rest] == ["job-001"]  # job 3 is not due yet
    assert await store.claim_jobs(worker="w2", now=now, lease_until=now + LEASE, limit=10) == []
    # Next: the leases run out (now + 60 s) before job 3 is due (T0 + 10 min).
    assert await store.next_job_due() == now + LEASE


async def test_outcomes_and_a_lease_that_ran_out(store: Store) -> None:
    await store.enqueue_job(job(1))
    await store.enqueue_job(job(2))
    await store.enqueue_job(replace(job(3), max_attempts=1))
    claimed = {
        j.id: j
        for j in await store.claim_jobs(worker="w1", now=T0, lease_until=T0 + LEASE, limit=10)
    }
    done = replace(claimed["job-001"], state=JobState.DONE, finished_at=T0 + timedelta(seconds=1))
    assert await store.settle_job(done, worker="w1")
    assert not await store.settle_job(done, worker="w1")  # no longer running
    later = T0 + timedelta(seconds=2)
    retry = after_failure(
        claimed["job-002"], "gateway 503", now=later, policy=RetryPolicy(first_s=120),
        retryable=True,
    )  # fmt: skip
    assert not await store.settle_job(retry, worker="w-other")  # not the holder
    assert await store.settle_job(retry, worker="w1")
    stored = await store.get_job("job-002")
    assert (stored.state, stored.due_at, stored.last_error, stored.attempts) == (
        JobState.PENDING,
        later + timedelta(seconds=120),
        "gateway 503",
        1,
    )
    assert stored.locked_by is None and stored.locked_until is None
    # Job 3 stays running by w1 (say w1 was killed): after its lease it is taken again.
    expired = T0 + LEASE
    assert await store.next_job_due() == T0 + LEASE
    again = await store.claim_jobs(worker="w2", now=expired, lease_until=expired + LEASE, limit=10)
    assert [(j.id, j.attempts, j.locked_by) for j in again] == [("job-003", 2, "w2")]
    assert not await store.settle_job(replace(again[0], state=JobState.DONE), worker="w1")
    dead = after_failure(again[0], "x" * 5000, now=expired, policy=RetryPolicy(), retryable=True)
    assert dead.state is JobState.DEAD and len(dead.last_error or "") == 1000
    assert await store.settle_job(dead, worker="w2")
    counts = await store.count_jobs()
    assert counts == {
        JobState.PENDING: 1,
        JobState.RUNNING: 0,
        JobState.DONE: 1,
        JobState.DEAD: 1,
    }
    assert [j.id for j in await store.list_jobs(state=JobState.DEAD)] == ["job-003"]
    assert len(await store.list_jobs(kind="message.send", limit=2)) == 2
    assert await store.list_jobs(kind="nul\0") == []


async def test_bad_jobs_are_refused_before_the_store() -> None:
    with pytest.raises(ValidationError):
        new_job("", {}, now=T0)
    with pytest.raises(ValidationError):
        new_job("k", {"x": object()}, now=T0)
    with pytest.raises(ValidationError):
        new_job("k", {}, now=T0, due_at=datetime(2026, 12, 1))
    with pytest.raises(ValidationError):
        new_job("k", {}, now=T0, key="")


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(first_s=30, cap_s=100)
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 100, 100]


async def test_two_stores_on_one_database_claim_disjoint_jobs(postgres_url: str) -> None:
    stores = [PostgresStore(postgres_url, connect_timeout=5.0, pool_size=4) for _ in range(2)]
    for s in stores:
        await s.open()
    try:
        for n in range(60):
            await stores[0].enqueue_job(job(n))

        async def drain(s: Store, worker: str) -> list[str]:
            ids: list[str] = []
            while batch := await s.claim_jobs(
                worker=worker, now=T0, lease_until=T0 + LEASE, limit=3
            ):
                ids.extend(j.id for j in batch)
                await asyncio.sleep(0)
            return ids

        a, b, c = await asyncio.gather(
            drain(stores[0], "a"), drain(stores[1], "b"), drain(stores[1], "c")
        )
        assert sorted(a + b + c) == sorted(f"job-{n:03d}" for n in range(60))
        assert len(set(a) | set(b) | set(c)) == 60
    finally:
        for s in stores:
            await s.close()
