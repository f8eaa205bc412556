"""How loaded this process is, measured where it hurts: the event loop and our own sockets.

Forwarding, ICE consent and DTLS all run on the one event loop. When it is late, datagrams
wait in the kernel; when a socket's receive buffer is full, the kernel drops them, consent
checks included, and after 30 s without one every connection is declared dead (RFC 7675).
So the monitor watches two things:

- the loop's lag: a task asks to wake every ``interval_s`` and records how late it woke;
- datagrams the kernel dropped on this process's UDP sockets (``/proc/net/udp`` drops of
  the sockets this process holds open), the symptom that must never last.

It turns them into a :class:`LoadLevel` with hysteresis: one level up when the loop's lag
(95th percentile over the last ``window_s``) is above ``raise_lag_ms`` or a socket dropped
anything, at most once per ``escalate_every_s``; one level down after ``calm_s`` with the lag
below ``calm_lag_ms`` and no drops. What a level means (what is shed) is decided by whoever
listens (the overload policy), not here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class LoadLevel(IntEnum):
    """How much to shed: each level keeps everything the level above it keeps."""

    NORMAL = 0
    SHED_THUMBNAILS = 1  # video of the less important publishers to the less important people
    SHED_VIDEO = 2  # only the presiding judge's video to non-staff; composite at half rate
    SHED_MOST = 3  # no participant video to non-staff; the composite at a few frames a second


@dataclass(frozen=True, slots=True)
class LoadReading:
    """One evaluation: the level and why."""

    level: LoadLevel
    lag_p95_ms: float
    lag_max_ms: float
    dropped: int  # datagrams dropped on our sockets since the previous evaluation
    reason: str


@dataclass(frozen=True, slots=True)
class LoadSettings:
    interval_s: float = 0.05
    window_s: float = 2.0
    raise_lag_ms: float = 80.0
    raise_drops: int = 1  # per evaluation (about a second)
    #: a loop that keeps up on a busy 2-core machine still has a 20-40 ms hiccup or two every
    #: couple of seconds (garbage collection, a negotiation); below 20 ms shed video never
    #: came back (issue 29's benchmark: p99 20-60 ms with nothing dropped, for minutes)
    calm_lag_ms: float = 40.0
    escalate_every_s: float = 2.0
    calm_s: float = 6.0
    check_sockets_every_s: float = 1.0


def own_udp_drops(pid: int | None = None, proc: Path = Path("/proc")) -> int | None:
    """Datagrams the kernel dropped on the UDP sockets process ``pid`` holds (None: unknown).

    ``/proc/<pid>/net/udp{,6}`` list every UDP socket of the process's network namespace with
    a ``drops`` column; the process's own are those whose inode it holds as a file descriptor.
    """
    pid = os.getpid() if pid is None else pid
    base = proc / str(pid)
    try:
        inodes = set()
        for fd in os.scandir(base / "fd"):
            try:
                target = os.readlink(fd.path)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        total = 0
        for table in ("udp", "udp6"):
            try:
                lines = (base / "net" / table).read_text().splitlines()[1:]
            except FileNotFoundError:
                continue
            for line in lines:
                cols = line.split()
                # sl local rem st tx:rx tr:when retr uid timeout inode ref pointer drops
                if len(cols) >= 13 and cols[9] in inodes:
                    total += int(cols[12])
        return total
    except OSError:
        return None


class LoadListener(Protocol):
    """Whoever acts on the load level (the overload policy)."""

    @property
    def level(self) -> LoadLevel: ...

    async def on_load(self, reading: LoadReading) -> None: ...


class LoadMonitor:
    """Samples the loop's lag and our sockets' drops; calls ``on_change`` with each new level.

    Owns one task (``start``/``close``).
    """

    def __init__(
        self,
        on_change: Callable[[LoadReading], Awaitable[None]],
        settings: LoadSettings | None = None,
        *,
        drops: Callable[[], int | None] = own_udp_drops,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._on_change = on_change
        self._settings = settings or LoadSettings()
        self._drops = drops
        self._clock = clock
        self._lags: deque[tuple[float, float]] = deque()  # (at, lag ms)
        self._level = LoadLevel.NORMAL
        self._last_change = float("-inf")
        self._calm_since: float | None = None
        self._last_drops: int | None = None
        self._last_socket_check = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self.last: LoadReading | None = None
        #: datagrams dropped on our sockets since the monitor started (only grows, unlike
        #: the kernel's per-socket counts, which leave with their socket)
        self.dropped_total = 0

    @property
    def level(self) -> LoadLevel:
        return self._level

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="load-monitor")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def record_lag(self, at: float, lag_ms: float) -> None:
        """One lag sample (the sampler's; tests feed their own)."""
        self._lags.append((at, lag_ms))
        horizon = at - self._settings.window_s
        while self._lags and self._lags[0][0] < horizon:
            self._lags.popleft()

    async def evaluate(self, now: float, dropped: int) -> LoadReading:
        """Decide the level from the samples so far and ``dropped`` new drops."""
        s = self._settings
        lags = sorted(lag for _, lag in self._lags)
        p95 = lags[min(len(lags) - 1, int(0.95 * len(lags)))] if lags else 0.0
        worst = lags[-1] if lags else 0.0
        level, reason = self._level, ""
        hot = p95 > s.raise_lag_ms or dropped >= s.raise_drops
        if hot:
            self._calm_since = None
            if level < LoadLevel.SHED_MOST and now - self._last_change >= s.escalate_every_s:
                level = LoadLevel(level + 1)
                reason = (
                    f"{dropped} datagrams dropped on the server's sockets"
                    if dropped
                    else f"the server is {p95:.0f} ms late (95th percentile)"
                )
        elif p95 < s.calm_lag_ms:
            if self._calm_since is None:
                self._calm_since = now
            if level > LoadLevel.NORMAL and now - self._calm_since >= s.calm_s:
                level = LoadLevel(level - 1)
                reason = f"load fell: {p95:.0f} ms late, no drops for {s.calm_s:.0f} s"
                self._calm_since = now
        else:
            self._calm_since = None
        reading = LoadReading(level, p95, worst, dropped, reason)
        self.last = reading
        self.dropped_total += dropped
        if level != self._level:
            self._level, self._last_change = level, now
            log.warning("load level %s: %s", level.name, reason)
            await self._on_change(reading)
        return reading

    async def _run(self) -> None:
        s = self._settings
        loop = asyncio.get_running_loop()
        expected = loop.time() + s.interval_s
        while True:
            await asyncio.sleep(max(0.0, expected - loop.time()))
            woke = loop.time()
            now = self._clock()
            self.record_lag(now, max(0.0, (woke - expected) * 1000))
            expected += s.interval_s
            if expected <= woke:  # a long stall is one sample, not a burst of catch-up ones
                expected = woke + s.interval_s
            if now - self._last_socket_check < s.check_sockets_every_s:
                continue
            self._last_socket_check = now
            try:
                total = await asyncio.to_thread(self._drops)
                dropped = 0
                if total is not None:
                    if self._last_drops is not None:
                        dropped = max(0, total - self._last_drops)
                    self._last_drops = total
                await self.evaluate(now, dropped)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("load evaluation failed")
