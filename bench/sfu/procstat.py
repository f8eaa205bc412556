"""CPU time from /proc: per process (all its threads) and for the whole machine."""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")


def process_user_system_seconds(pid: int) -> tuple[float, float]:
    """(utime, stime) of process ``pid`` (every thread), in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        text = fh.read()
    # the command name (field 2) may contain spaces: split after its closing parenthesis
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return utime / _TICKS, stime / _TICKS


def _schedstat_seconds(pid: int, field: int) -> float:
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as fh:
                total += int(fh.read().split()[field])
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
    return total / 1e9


def process_runtime_seconds(pid: int) -> float:
    """Time on a CPU of every live thread of ``pid``, from the scheduler's nanosecond
    counters (``/proc/<pid>/task/*/schedstat``): finer than the 10 ms ticks of
    utime/stime, but threads that ended since are missing."""
    return _schedstat_seconds(pid, 0)


def process_waiting_seconds(pid: int) -> float:
    """Time every live thread of ``pid`` spent runnable but waiting for a CPU (the run
    queue), from the same counters."""
    return _schedstat_seconds(pid, 1)


def descendants(pid: int) -> list[int]:
    """Every live descendant process of ``pid`` (e.g. worker processes it spawned)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                children = [int(c) for c in fh.read().split()]
        except FileNotFoundError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` (every thread), in seconds."""
    return sum(process_user_system_seconds(pid))


@dataclass(frozen=True)
class MachineCpu:
    """Jiffies summed over every CPU, from the first line of /proc/stat."""

    busy: int
    total: int

    @classmethod
    def read(cls) -> MachineCpu:
        with open("/proc/stat") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        total = sum(values[:8])  # guest time is already inside user/nice
        return cls(total - idle, total)

    def busy_fraction_since(self, earlier: MachineCpu) -> float:
        """Share of all CPUs' time spent busy between ``earlier`` and this reading."""
        total = self.total - earlier.total
        return (self.busy - earlier.busy) / total if total else 0.0
