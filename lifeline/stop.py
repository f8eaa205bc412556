"""Stop processes by identity: SIGTERM, a bounded wait, then SIGKILL.

Each process is addressed through a pidfd opened *before* its identity is checked, so a pid
that is freed and reused in between is never signalled: the pidfd still names the process
that was checked, and signalling it after it exited fails instead of hitting the newcomer.
"""

from __future__ import annotations

import contextlib
import enum
import os
import select
import signal
import time
from collections.abc import Iterable

from .procfs import ProcessIdentity, identify, is_running

KILL_WAIT_S = 1.0
"""After SIGKILL: only a process in uninterruptible sleep (a hung disk) takes longer."""


class Outcome(enum.StrEnum):
    GONE = "had already exited"
    NOT_OURS = "its pid now belongs to another process: left alone"
    TERMINATED = "stopped (SIGTERM)"
    KILLED = "killed (SIGKILL)"
    STUCK = "still there after SIGKILL"
    UNSUPPORTED = "not stopped: this system has no pidfds"


def stop(processes: Iterable[ProcessIdentity], *, timeout: float = 2.0) -> dict[int, Outcome]:
    """SIGTERM every process of ``processes`` that still runs, wait up to ``timeout`` seconds
    for them all, SIGKILL the rest; returns what happened to each, by pid."""
    out: dict[int, Outcome] = {}
    pidfds: dict[int, int] = {}
    try:
        for process in processes:
            try:
                fd = os.pidfd_open(process.pid)
            except ProcessLookupError:
                out[process.pid] = Outcome.GONE
                continue
            except (AttributeError, OSError):  # not Linux, or a kernel before 5.3
                out[process.pid] = Outcome.UNSUPPORTED
                continue
            if is_running(process):
                pidfds[process.pid] = fd
            else:
                os.close(fd)
                gone = identify(process.pid) is None
                out[process.pid] = Outcome.GONE if gone else Outcome.NOT_OURS
        _send(pidfds, signal.SIGTERM)
        left = _wait(pidfds, timeout)
        out.update(dict.fromkeys(pidfds.keys() - left, Outcome.TERMINATED))
        _send({pid: pidfds[pid] for pid in left}, signal.SIGKILL)
        stuck = _wait({pid: pidfds[pid] for pid in left}, KILL_WAIT_S)
        out.update(dict.fromkeys(left - stuck, Outcome.KILLED))
        out.update(dict.fromkeys(stuck, Outcome.STUCK))
    finally:
        for fd in pidfds.values():
            os.close(fd)
    return out


def _send(pidfds: dict[int, int], sig: signal.Signals) -> None:
    for fd in pidfds.values():
        with contextlib.suppress(ProcessLookupError):  # exited meanwhile
            signal.pidfd_send_signal(fd, sig)


def _wait(pidfds: dict[int, int], timeout: float) -> set[int]:
    """Wait until every process has exited (its pidfd turns readable) or ``timeout``; returns
    the pids of those still running."""
    by_fd = {fd: pid for pid, fd in pidfds.items()}
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    while by_fd:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        for fd, _ in poller.poll(remaining * 1000):
            poller.unregister(fd)
            by_fd.pop(fd, None)
    return set(by_fd.values())
