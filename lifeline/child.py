"""The child's side: exit as soon as the parent is gone, however it ended.

A parent that is SIGKILLed, or crashes in C, runs no cleanup, and a child blocked reading a
pipe whose write end it also holds (a ProcessPoolExecutor worker waiting for work does) would
wait forever. So each guarded child watches its parent itself, with two independent guards:

- a daemon thread waits on a pidfd of the parent (Linux 5.3+; elsewhere it polls
  ``os.getppid()`` every 0.2 s) and calls ``os._exit`` the moment the parent exits: no
  cleanup of the child's own runs, since nobody is left to receive its results;
- on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the child even if the
  thread cannot run (a C extension holding the GIL). The kernel sends it when the *thread*
  that started the child ends, not the process, so it is set only when the child was started
  from the parent's main thread (``Parent.current()`` records that); a child started from a
  short-lived worker thread would otherwise be killed with that thread.

When ``LIFELINE_RUN_DIR`` names a directory (the server sets it for its children), the child
also writes ``child-<pid>.json`` there with its identity and holds an flock on it for its
life, so a later start finds a child that outlived its server (see ``RunDir.sweep``).
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import select
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .procfs import identify

RUN_DIR_ENV = "LIFELINE_RUN_DIR"
"""Where guarded children record themselves; set by the server for the children it starts."""

ORPHAN_EXIT_STATUS = 1
POLL_S = 0.2  # only where pidfds are missing
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class Parent:
    """The process a child must die with. Take it in the parent, in the thread that starts
    the child (``Parent.current()``), and hand it to the child (it pickles)."""

    pid: int
    started_from_main_thread: bool

    @classmethod
    def current(cls) -> Parent:
        return cls(os.getpid(), threading.current_thread() is threading.main_thread())


class Lifeline:
    """A guarded child's tie to its parent: made by :func:`guard`. Its watcher thread holds it
    (and with it the record's lock) for the rest of the process's life."""

    def __init__(self, parent: Parent, name: str) -> None:
        self.parent = parent
        self.name = name
        self.record: Path | None = None
        self.parent_death_signal = False
        self._record_fd: int | None = None
        self._pidfd: int | None = None

    def _watch(self) -> None:
        if self._pidfd is not None:
            poller = select.poll()
            poller.register(self._pidfd, select.POLLIN)
            poller.poll()  # readable once the parent has exited; EINTR is retried
        else:
            while os.getppid() == self.parent.pid:
                time.sleep(POLL_S)
        self._orphaned()

    def _orphaned(self) -> None:
        message = f"{self.name} (pid {os.getpid()}): parent {self.parent.pid} is gone, exiting\n"
        try:
            os.write(2, message.encode())
            if self.record is not None:
                self.record.unlink(missing_ok=True)
        except OSError:  # stderr may be a pipe nobody reads any more
            pass
        os._exit(ORPHAN_EXIT_STATUS)

    def _register(self, run_dir: Path) -> None:
        me = identify(os.getpid())
        if me is None:  # no /proc: nothing a later start could verify
            return
        path = run_dir / f"child-{me.pid}.json"
        partial = path.with_suffix(".partial")
        try:
            fd = os.open(partial, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            # Locked before it gets its real name, so a record anyone can see is already held.
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, json.dumps({"name": self.name, "parent": self.parent.pid,
                                     **me.to_json()}).encode())
            os.replace(partial, path)
        except OSError as exc:
            print(f"{self.name}: cannot record myself in {run_dir}: {exc}", file=sys.stderr)
            return
        self.record, self._record_fd = path, fd


def guard(parent: Parent, name: str, *, ignore_interrupt: bool = True) -> Lifeline:
    """Call first thing in a child, in its main thread: from then on the child exits within
    moments of ``parent`` ending, however it ended. If the parent is already gone, the child
    exits here.

    ``ignore_interrupt``: a Ctrl-C in a terminal sends SIGINT to the whole process group; the
    child leaves it to the parent, whose orderly shutdown then stops the child.
    """
    if ignore_interrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    line = Lifeline(parent, name)
    if parent.started_from_main_thread:
        line.parent_death_signal = _set_parent_death_signal(signal.SIGKILL)
    try:
        line._pidfd = os.pidfd_open(parent.pid)
    except ProcessLookupError:
        line._orphaned()
    except (AttributeError, OSError):  # not Linux, or a kernel before 5.3: poll instead
        pass
    # After arming both guards: had the parent died before, we were reparented already, and
    # the pidfd (if any) may name an unrelated process that reuses the pid.
    if os.getppid() != parent.pid:
        line._orphaned()
    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir:
        line._register(Path(run_dir))
    threading.Thread(target=line._watch, name=f"lifeline {name}", daemon=True).start()
    return line


def _set_parent_death_signal(sig: signal.Signals) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
