"""How busy the shared machine was while a benchmark ran: the load averages, the share of
both cores that was busy, and how much of that was this benchmark's own processes (the
orchestrator and its clients, the nodes, Redis, PostgreSQL) versus everybody else's."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from typing import Any

from bench.sfu.procstat import MachineCpu, descendants, process_cpu_seconds


def _ours_cpu_seconds() -> float:
    """This process, its children that ended (as reaped: a killed node included), and the
    descendants still running."""
    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    for pid in descendants(os.getpid()):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += process_cpu_seconds(pid)
    return total


def _loadavg() -> list[float]:
    with open("/proc/loadavg") as fh:
        return [float(v) for v in fh.read().split()[:3]]


@dataclass
class LoadMeter:
    """Started at the beginning of a window; :meth:`report` at its end."""

    machine: MachineCpu
    ours: float
    t: float
    loadavg: list[float]

    @classmethod
    def start(cls) -> LoadMeter:
        return cls(MachineCpu.read(), _ours_cpu_seconds(), time.monotonic(), _loadavg())

    def report(self) -> dict[str, Any]:
        """Per second of the window: CPU-s busy on the machine, of it ours and others'."""
        now = MachineCpu.read()
        elapsed = time.monotonic() - self.t
        cores = os.cpu_count() or 1
        busy = now.busy_fraction_since(self.machine) * cores
        ours = (_ours_cpu_seconds() - self.ours) / elapsed if elapsed else 0.0
        return {
            "seconds": round(elapsed, 1),
            "cores": cores,
            "machine_busy_cpu_s_per_s": round(busy, 2),
            "ours_cpu_s_per_s": round(ours, 2),
            "others_cpu_s_per_s": round(max(0.0, busy - ours), 2),
            "loadavg_start": self.loadavg,
            "loadavg_end": _loadavg(),
        }
