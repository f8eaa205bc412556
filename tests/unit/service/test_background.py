"""Owned background work, and the event bus's rule that listeners return quickly."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hearing_server.service.background import BackgroundWork
from hearing_server.service.events import EventBus


async def test_work_runs_after_start_returns_and_settles() -> None:
    work = BackgroundWork("test")
    gate = asyncio.Event()
    done: list[str] = []

    async def job() -> None:
        await gate.wait()
        done.append("h1")

    work.start("h1", job(), what="a job")
    assert work.busy("h1") and not work.busy("h2")
    gate.set()
    await work.settle("h1")
    assert done == ["h1"] and not work.busy("h1")


async def test_a_failure_is_reported_and_does_not_escape() -> None:
    reports: list[tuple[str, str, str]] = []

    async def report(key: str, what: str, exc: BaseException) -> None:
        reports.append((key, what, str(exc)))

    work = BackgroundWork("test", on_failure=report)

    async def broken() -> None:
        raise OSError("disk full")

    work.start("h1", broken(), what="finishing")
    await work.settle("h1")
    assert reports == [("h1", "finishing", "disk full")]


async def test_close_waits_for_work_then_cancels_what_outlives_the_grace() -> None:
    work = BackgroundWork("test")
    finished: list[str] = []
    cancelled: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0.01)
        finished.append("quick")

    async def endless() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append("endless")
            raise

    work.start("a", quick(), what="quick")
    work.start("b", endless(), what="endless")
    await work.close(grace=0.2)
    assert finished == ["quick"] and cancelled == ["endless"]

    async def late() -> None:
        pass

    coro = late()
    with pytest.raises(RuntimeError):
        work.start("c", coro, what="late")


async def test_the_bus_names_a_slow_listener(caplog: pytest.LogCaptureFixture) -> None:
    bus: EventBus[str] = EventBus(slow_after_s=0.05)

    async def slow_listener(event: str) -> None:
        await asyncio.sleep(0.1)

    async def quick_listener(event: str) -> None:
        pass

    bus.subscribe(slow_listener)
    bus.subscribe(quick_listener)
    with caplog.at_level(logging.WARNING):
        await bus.publish("closed")
    slow = [r.getMessage() for r in caplog.records if "hand long work" in r.getMessage()]
    assert len(slow) == 1 and "slow_listener" in slow[0]
