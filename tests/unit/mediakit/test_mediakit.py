"""The hearing clock and closing frame sources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from mediakit import HearingClock, close_source

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


class FakeTime:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = T0

    def monotonic(self) -> float:
        return self.mono

    def now(self) -> datetime:
        return self.wall


def test_the_clock_counts_from_its_origin_on_the_monotonic_clock() -> None:
    t = FakeTime()
    t.wall = T0 + timedelta(seconds=30)  # the hearing started 30 s ago
    clock = HearingClock(T0, monotonic=t.monotonic, wall=t.now)
    assert clock.now() == pytest.approx(30.0)
    assert clock.mono_start == pytest.approx(970.0)
    t.mono += 5
    t.wall += timedelta(hours=1)  # an NTP jump moves nothing
    assert clock.now() == pytest.approx(35.0)
    assert clock.offset(1010.0) == pytest.approx(40.0)
    assert clock.wall(40.0) == T0 + timedelta(seconds=40)
    assert clock.origin == T0


def test_a_clock_without_origin_starts_now() -> None:
    t = FakeTime()
    clock = HearingClock(monotonic=t.monotonic, wall=t.now)
    assert clock.origin == T0 and clock.now() == 0.0 and clock.mono_start == 1000.0


def test_the_origin_must_be_aware() -> None:
    with pytest.raises(ValueError):
        HearingClock(datetime(2026, 12, 6, 9, 0))


class SyncTap:
    closed = 0

    def close(self) -> None:
        self.closed += 1


class AsyncTap:
    closed = 0

    async def close(self) -> None:
        self.closed += 1


async def test_close_source_closes_taps_and_generators() -> None:
    sync, asynchronous = SyncTap(), AsyncTap()
    await close_source(sync)
    await close_source(asynchronous)
    assert sync.closed == 1 and asynchronous.closed == 1

    finished = []

    async def frames() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            finished.append(True)

    gen = frames()
    assert await gen.__anext__() == 1
    await close_source(gen)
    assert finished == [True]
    await close_source(object())  # nothing to close: nothing happens
