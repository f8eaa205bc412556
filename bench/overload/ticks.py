"""Event-loop lag, a once-per-second schedule on whole wall-clock seconds, and OS thread
names for /proc.

Every process of the benchmark samples at the same whole seconds (``every_second``), so a
second of the server's figures lines up with the same second of every client's. A sample
carries the second it was meant for (``s``) and the time it was taken (``t``): an
overloaded loop takes it late, and one that stalled for longer than a second skips
seconds, so the next sample covers all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import math
import threading
import time
from collections.abc import Callable

TICK_S = 0.02  # as bench.transcription.e2e_lag, so the figures compare


class LagTicks:
    """A task that asks to sleep 20 ms and notes how late it woke (ms); ``take()`` hands
    over the lags noted since the previous call."""

    def __init__(self) -> None:
        self._lags: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(TICK_S)
            self._lags.append(round((loop.time() - t0 - TICK_S) * 1000, 2))

    def take(self) -> list[float]:
        lags, self._lags = self._lags, []
        return lags


async def every_second(sample: Callable[[int], None]) -> None:
    """Call ``sample(s)`` at each whole wall-clock second ``s``, until cancelled."""
    while True:
        s = math.floor(time.time()) + 1
        await asyncio.sleep(max(0.0, s - time.time()))
        sample(s)


_PR_SET_NAME = 15


def name_os_threads() -> None:
    """From now on, every thread started through ``threading`` names its OS thread."""
    libc = ctypes.CDLL(None, use_errno=True)
    bootstrap: Callable[[threading.Thread], None] = getattr(  # noqa: B009
        threading.Thread, "_bootstrap_inner"
    )

    def named(self: threading.Thread) -> None:
        with contextlib.suppress(Exception):
            libc.prctl(_PR_SET_NAME, self.name.encode("ascii", "replace")[:15], 0, 0, 0)
        bootstrap(self)

    setattr(threading.Thread, "_bootstrap_inner", named)  # noqa: B010
