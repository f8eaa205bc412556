"""Event-loop lag: a ticker that asks to sleep 20 ms and records how late it wakes."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import numpy as np

TICK_S = 0.02


class LagTicker:
    """Run with ``start()``/``stop()`` inside a loop; ``summary()`` reads (and may reset)
    the lags seen so far."""

    def __init__(self) -> None:
        self._lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start ticking on the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="lag-ticker")

    async def stop(self) -> None:
        """Stop ticking (idempotent)."""
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
            self._lags.append(loop.time() - t0 - TICK_S)

    def summary(self, *, reset: bool = False) -> dict[str, Any]:
        """Ticks, p50/p99/max lag in seconds since the last reset."""
        lags = np.array(self._lags) if self._lags else np.zeros(1)
        out = {
            "ticks": len(self._lags),
            "p50_s": round(float(np.percentile(lags, 50)), 4),
            "p99_s": round(float(np.percentile(lags, 99)), 4),
            "max_s": round(float(lags.max()), 4),
        }
        if reset:
            self._lags.clear()
        return out
