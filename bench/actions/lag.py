"""Event-loop lag with the moment of each tick, so any window of a run can be cut out later.

bench/transcription/e2e_lag.py keeps only the lags (one window per reset); here the close
and the drain after it are one window and the actions before it another, so each tick keeps
its monotonic time (one machine: the server's loop clock is the orchestrator's).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from bench.sfu.numbers import percentile
from bench.transcription.e2e_lag import TICK_S


class LagSeries:
    """A ticker that asks to sleep ``TICK_S`` and records (woke at, how late)."""

    def __init__(self) -> None:
        self.ticks: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="lag-series")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(TICK_S)
            now = loop.time()
            self.ticks.append((now, now - t0 - TICK_S))

    def since(self, t: float) -> list[tuple[float, float]]:
        return [tick for tick in self.ticks if tick[0] >= t]


def lag_summary(ticks: Sequence[Sequence[float]], start: float, end: float) -> dict[str, Any]:
    """p50 / p99 / max lag (s) of the ticks that woke in [start, end]."""
    lags = [lag for at, lag in ticks if start <= at <= end]
    p50, p99 = percentile(lags, 50), percentile(lags, 99)
    return {
        "ticks": len(lags),
        "window_s": round(end - start, 1),
        "p50_s": None if p50 is None else round(p50, 4),
        "p99_s": None if p99 is None else round(p99, 4),
        "max_s": round(max(lags), 4) if lags else None,
    }
