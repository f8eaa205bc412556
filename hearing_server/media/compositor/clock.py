"""Tick scheduling: the one clock the video and audio threads tick on.

Both threads count ticks from the same zero, ``t0``, so that audio and video timestamps
line up. The clock starts only once both encoders are open (opening libx264 takes long
enough to make the first ticks late otherwise).
"""

from __future__ import annotations

import threading
import time


class TickClock:
    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self.t0 = 0.0  # time.monotonic() of tick 0 / block 0
        self._started = threading.Event()
        # the parties: the video encoder thread and the audio thread
        self._ready = threading.Barrier(2, action=self._start)

    def _start(self) -> None:
        self.t0 = time.monotonic()
        self._started.set()

    def ready(self, opened: bool) -> None:
        """Called by the encoder and audio threads once they have opened their encoder (or
        failed to: ``opened`` False); waits for the other one, then the clock starts."""
        if not opened:
            self._ready.abort()
            return
        try:
            self._ready.wait(timeout=10)
        except threading.BrokenBarrierError:
            self._start()  # the other thread failed: run alone

    def wait_started(self) -> bool:
        """Wait for the clock to start; False if the compositor stops first."""
        while not self._started.wait(0.1):
            if self._stop.is_set():
                return False
        return True

    def wait_for_tick(self, tick: int, period: float) -> tuple[float, int] | None:
        """Sleep until tick ``tick`` (of ``period`` seconds); returns (now, whole periods
        late), or None once the compositor is stopping."""
        if self._stop.is_set():
            return None
        deadline = self.t0 + tick * period
        now = time.monotonic()
        if now < deadline:
            if self._stop.wait(deadline - now):
                return None
            now = time.monotonic()
        return now, int((now - deadline) / period)
