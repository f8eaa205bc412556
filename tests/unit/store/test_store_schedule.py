"""Bookings on both backends: stored and read back, changed only by compare-and-set on the
revision, the clash check run on the overlapping bookings inside the write (a refusal writes
nothing), and concurrent bookers of one courtroom: exactly one wins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.hearing import Hearing, HearingKind
from hearing_server.core.schedule import (
    Booking,
    BookingStatus,
    ScheduleConflict,
    clashes,
    person,
)
from hearing_server.store.base import Store
from support.stores import StoreBackend

T0 = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


@pytest.fixture
async def store(store_backend: StoreBackend) -> AsyncIterator[Store]:
    s = store_backend.store()
    await s.open()
    for n in range(1, 6):
        await s.create_hearing(
            Hearing(
                id=f"h-{n}",
                kind=HearingKind.HEARING,
                case_number=f"(2026)京0105民初1234{n}号",
                court="北京市朝阳区人民法院",
                title="买卖合同纠纷",
                scheduled_start=T0,
                scheduled_end=T0 + timedelta(hours=2),
            )
        )
    yield s
    await s.close()


def booking(hid: str, start: datetime = T0, room: str | None = "第一法庭") -> Booking:
    return Booking(
        hid,
        HearingKind.HEARING,
        start,
        start + timedelta(hours=2),
        room,
        (person("judge", "王法官"), person("party", "张三", "110101199001011234", "Europe/Berlin")),
        updated_by="staff:admin",
        updated_at=T0 - timedelta(days=1),
    )


def refuse_clashes(candidate: Booking):  # type: ignore[no-untyped-def]
    def check(others: list[Booking]) -> None:
        found = clashes(candidate, others)
        if found:
            raise ScheduleConflict(found)

    return check


async def test_a_booking_reads_back_and_changes_by_revision(store: Store) -> None:
    b = booking("h-1")
    await store.book(b, expected_revision=0, check=lambda others: None)
    assert await store.get_booking("h-1") == b
    with pytest.raises(Conflict):  # someone else's change raced ours
        await store.book(b, expected_revision=0, check=lambda others: None)
    moved = replace(b, start=T0 + timedelta(days=1), end=T0 + timedelta(days=1, hours=1),
                    revision=2, reason="改期")  # fmt: skip
    await store.book(moved, expected_revision=1, check=lambda others: None)
    assert await store.get_booking("h-1") == moved
    with pytest.raises(NotFound):
        await store.get_booking("h-2")
    with pytest.raises(NotFound):
        await store.get_booking("h-\0")
    with pytest.raises(NotFound):  # no such hearing
        await store.book(booking("h-404"), expected_revision=0, check=lambda others: None)


async def test_the_check_sees_overlapping_active_bookings_and_a_refusal_writes_nothing(
    store: Store,
) -> None:
    await store.book(booking("h-1"), expected_revision=0, check=lambda others: None)
    seen: list[list[str]] = []
    later = booking("h-2", T0 + timedelta(hours=2))  # starts as h-1 ends
    await store.book(later, expected_revision=0,
                     check=lambda others: seen.append([o.hearing_id for o in others]))  # fmt: skip
    assert seen == [[]]
    clash = booking("h-3", T0 + timedelta(hours=1))
    with pytest.raises(ScheduleConflict) as err:
        await store.book(clash, expected_revision=0, check=refuse_clashes(clash))
    assert {c.hearing_id for c in err.value.clashes} == {"h-1", "h-2"}
    with pytest.raises(NotFound):
        await store.get_booking("h-3")
    # Cancelled, h-1 holds nothing any more.
    gone = replace(await store.get_booking("h-1"), status=BookingStatus.CANCELLED, revision=2)
    await store.book(gone, expected_revision=1, check=lambda others: None)
    early = booking("h-3", T0 - timedelta(hours=1))
    await store.book(early, expected_revision=0, check=refuse_clashes(early))
    span = await store.list_bookings(start=T0, end=T0 + timedelta(hours=3))
    assert [b.hearing_id for b in span] == ["h-3", "h-2"]
    every = await store.list_bookings(start=T0, end=T0 + timedelta(hours=3), include_cancelled=True)
    assert [b.hearing_id for b in every] == ["h-3", "h-1", "h-2"]


async def test_concurrent_bookers_of_one_courtroom_one_wins(store: Store) -> None:
    attempts = [booking(f"h-{n}", T0 + timedelta(minutes=n)) for n in range(1, 6)]

    async def attempt(b: Booking) -> bool:
        try:
            await store.book(b, expected_revision=0, check=refuse_clashes(b))
        except ScheduleConflict:
            return False
        return True

    won = await asyncio.gather(*(attempt(b) for b in attempts))
    assert sum(won) == 1
