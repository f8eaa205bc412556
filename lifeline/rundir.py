"""The server's side: one server per data directory, and what a crashed run left behind.

``<data_dir>/run/`` holds

- ``server.lock``: flocked by the running server for its whole life. The kernel drops the lock
  when the process ends, however it ends, so a lock that cannot be taken means a server is
  running; the file itself is never removed (removing it would let two servers lock two
  different files of the same name);
- ``server.json``: the running server's identity; removed by a clean shutdown, so finding it
  at start-up means the previous run did not get to the end of its shutdown;
- ``child-<pid>.json``: one per guarded child (see :mod:`lifeline.child`), flocked by the
  child for its life.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from .child import RUN_DIR_ENV
from .procfs import ProcessIdentity, identify
from .stop import Outcome, stop

LOCK_FILE = "server.lock"
SERVER_RECORD = "server.json"
CHILD_RECORDS = "child-*.json"


class DataDirInUse(Exception):
    """Another server holds the run directory's lock."""


@dataclass(frozen=True, slots=True)
class ChildRecord:
    name: str
    process: ProcessIdentity


@dataclass(frozen=True, slots=True)
class Leftover:
    """A child of an earlier run that was still running at start-up, and what was done."""

    child: ChildRecord
    outcome: Outcome

    def __str__(self) -> str:
        return f"{self.child.name} (pid {self.child.process.pid}): {self.outcome}"


class RunDir:
    """Holds ``path``'s lock from :meth:`acquire` to :meth:`close`."""

    def __init__(self, path: Path, lock_fd: int, previous: dict[str, Any] | None) -> None:
        self.path = path
        self._lock_fd: int | None = lock_fd
        self.previous_server = previous
        """The record of an earlier server that did not shut down cleanly, if any."""

    @classmethod
    def acquire(cls, path: Path) -> RunDir:
        """Lock ``path`` (created if needed) for this process, or raise :class:`DataDirInUse`
        naming the server that holds it."""
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _read_json(path / SERVER_RECORD)
            who = f"pid {holder.get('pid')}" if holder else "a process that is still starting"
            raise DataDirInUse(f"{path.parent} is in use by another server ({who})") from None
        previous = _read_json(path / SERVER_RECORD)
        me = identify(os.getpid())
        _write_json(path / SERVER_RECORD, me.to_json() if me else {"pid": os.getpid()})
        return cls(path, fd, previous)

    def sweep(self, *, timeout: float = 2.0) -> list[Leftover]:
        """Children of earlier runs. Records nobody holds are removed (those children exited);
        a child still holding its record is stopped if it still is the process that wrote it
        (same pid, start time, boot and command line), and left alone otherwise."""
        alive = self.children()
        outcomes = stop([c.process for c in alive], timeout=timeout)
        leftovers = [Leftover(c, outcomes[c.process.pid]) for c in alive]
        self.children()  # the stopped children's records are free now: removes them
        return leftovers

    def children(self) -> list[ChildRecord]:
        """Guarded children whose records are held, i.e. still running; the records of children
        that have exited are removed on the way."""
        out = []
        for path in sorted(self.path.glob(CHILD_RECORDS)):
            record = _held_record(path)
            if record is not None:
                out.append(record)
        return out

    def environ(self) -> dict[str, str]:
        """For the environment of the children this server starts."""
        return {RUN_DIR_ENV: str(self.path)}

    def close(self) -> list[ChildRecord]:
        """Release the directory. Returns guarded children still running: their records stay,
        and so does the server's record, so the next start reports and stops them."""
        if self._lock_fd is None:
            return []
        running = self.children()
        if not running:
            (self.path / SERVER_RECORD).unlink(missing_ok=True)
        fd, self._lock_fd = self._lock_fd, None
        os.close(fd)  # drops the flock
        return running

    def __enter__(self) -> RunDir:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _held_record(path: Path) -> ChildRecord | None:
    """The record at ``path`` if its child holds it; otherwise removes it and returns None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                data = json.loads(os.read(fd, 1 << 16))
                return ChildRecord(str(data.get("name", "?")), ProcessIdentity.from_json(data))
            except (ValueError, KeyError, TypeError):
                return None  # held but unreadable: nothing to verify a process against
        # Nobody holds it: its child has exited. Remove it unless a newer record took its name.
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                path.unlink()
        return None
    finally:
        os.close(fd)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data))
    os.replace(partial, path)
