"""What /proc says about processes: enough to tell a process from another that reuses its pid.

Linux only; elsewhere every lookup finds nothing, so nothing is ever signalled by mistake.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """A process as the kernel knows it. A reused pid has another start time (clock ticks
    after boot); after a reboot the boot id differs too."""

    pid: int
    start_time: int
    boot_id: str
    cmdline: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "start_time": self.start_time,
            "boot_id": self.boot_id,
            "cmdline": list(self.cmdline),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcessIdentity:
        """Raises KeyError, TypeError or ValueError for a record that is not one."""
        return cls(
            pid=int(data["pid"]),
            start_time=int(data["start_time"]),
            boot_id=str(data["boot_id"]),
            cmdline=tuple(str(a) for a in data["cmdline"]),
        )


def boot_id() -> str:
    try:
        return (PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of ``pid``, or None."""
    try:
        raw = (PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    # The command name in parentheses may itself hold spaces and parentheses.
    rest = raw[raw.rindex(b")") + 2 :].split()
    return rest[0].decode(), int(rest[1]), int(rest[19])


def identify(pid: int) -> ProcessIdentity | None:
    """The living process ``pid`` is now, or None (no such process, or a zombie)."""
    stat = _stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return None
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    args = raw.split(b"\0")
    if args and args[-1] == b"":
        args.pop()
    return ProcessIdentity(pid, stat[2], boot_id(), tuple(a.decode(errors="replace") for a in args))


def is_running(process: ProcessIdentity) -> bool:
    """Whether ``process`` itself still runs (not merely something under its pid)."""
    return identify(process.pid) == process


def descendants(pid: int) -> list[ProcessIdentity]:
    """Every living process below ``pid``: children, their children, and so on."""
    below: dict[int, list[int]] = {}
    try:
        entries = os.listdir(PROC)
    except OSError:
        return []
    for entry in entries:
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            below.setdefault(stat[1], []).append(int(entry))
    out: list[ProcessIdentity] = []
    todo = list(below.get(pid, []))
    while todo:
        child = todo.pop()
        todo.extend(below.get(child, []))
        if (ident := identify(child)) is not None:
            out.append(ident)
    return out


def is_resource_tracker(process: ProcessIdentity) -> bool:
    """multiprocessing's resource tracker, which the first ``spawn`` child starts. It ignores
    SIGTERM and SIGINT by design and exits by itself, after unlinking any semaphore or shared
    memory left behind, once every process holding its pipe (the server and its spawned
    children) has exited: it must not be killed, it must only outlive nobody."""
    return any("multiprocessing.resource_tracker" in arg for arg in process.cmdline)
