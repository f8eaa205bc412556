"""Mediators' windows and slot links on both backends: windows checked against the
mediator's others inside the write (two overlapping publications at once: one wins), listed
by span and mediator; a slot link found by its token's hash, picked once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from hearing_server.core.errors import NotFound, ValidationError
from hearing_server.core.hearing import Hearing, HearingKind
from hearing_server.core.slots import SlotLink, Window, check_windows
from hearing_server.store.base import Store
from support.stores import StoreBackend

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
T0 = datetime(2026, 12, 8, 11, 0, tzinfo=UTC)  # 19:00 in Beijing


@pytest.fixture
async def store(store_backend: StoreBackend) -> AsyncIterator[Store]:
    s = store_backend.store()
    await s.open()
    await s.create_hearing(
        Hearing(
            id="m-1",
            kind=HearingKind.MEDIATION,
            case_number="(2026)京0105民调1号",
            court="北京市朝阳区人民法院",
            title="物业纠纷",
            scheduled_start=T0,
            scheduled_end=T0 + timedelta(hours=1),
        )
    )
    yield s
    await s.close()


def window(n: int, start: datetime, hours: float = 3, key: str = "staff:孙调解员") -> Window:
    return Window(
        f"win-{n}", key, "孙调解员", start, start + timedelta(hours=hours), "staff:a", NOW
    )


def publish(store: Store, windows: list[Window]):  # type: ignore[no-untyped-def]
    return store.add_windows(windows, check=lambda old: check_windows(windows, old, NOW))


async def test_windows_are_checked_in_the_write_and_listed(store: Store) -> None:
    await publish(store, [window(1, T0), window(2, T0 + timedelta(days=1))])
    with pytest.raises(ValidationError) as err:
        await publish(store, [window(3, T0 + timedelta(hours=2))])
    assert err.value.code == "overlapping_windows"
    # Another mediator's window at the same time is theirs.
    await publish(store, [window(4, T0, key="staff:李调解员")])
    mine = await store.list_windows(
        start=T0 - timedelta(days=1), end=T0 + timedelta(days=3), mediator_key="staff:孙调解员"
    )
    assert [w.id for w in mine] == ["win-1", "win-2"]
    assert mine[0] == window(1, T0)
    every = await store.list_windows(start=T0, end=T0 + timedelta(hours=1))
    assert sorted(w.id for w in every) == ["win-1", "win-4"]
    assert await store.list_windows(start=T0, end=T0 + timedelta(hours=1), mediator_key="x\0") == []


async def test_two_overlapping_publications_at_once_one_wins(store: Store) -> None:
    async def attempt(n: int) -> bool:
        try:
            await publish(store, [window(n, T0 + timedelta(minutes=n))])
        except ValidationError:
            return False
        return True

    assert sum(await asyncio.gather(*(attempt(n) for n in range(1, 5)))) == 1


async def test_a_slot_link_is_found_by_its_hash_and_picked_once(store: Store) -> None:
    link = SlotLink(
        id="pick-1", hearing_id="m-1", token_hash="ab" * 32, mediator_key="staff:孙调解员",
        mediator_name="孙调解员", party_name="张三", party_key="id:13800138000",
        phone="13800138000", email=None, time_zone="Europe/Berlin", minutes=60,
        courtroom="调解室", participant_id=None, expires_at=NOW + timedelta(days=14),
        created_by="staff:a", created_at=NOW,
    )  # fmt: skip
    await store.add_slot_link(link)
    assert await store.slot_link_by_token("ab" * 32) == link
    for bad in ("cd" * 32, "\0"):
        with pytest.raises(NotFound):
            await store.slot_link_by_token(bad)
    assert await store.mark_slot_link_picked("pick-1", NOW) is True
    assert await store.mark_slot_link_picked("pick-1", NOW + timedelta(minutes=1)) is False
    assert (await store.slot_link_by_token("ab" * 32)).picked_at == NOW
