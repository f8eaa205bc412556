"""Child processes of the orchestrator, driven by the line protocol of ``control``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger("bench.children")


def _open_log(path: Path) -> BinaryIO:
    return open(path, "wb")


class ChildFailed(RuntimeError):
    """A child exited or reported a failure while the orchestrator waited on it."""


class Child:
    """A ``python -m <module>`` child: JSON commands on stdin, JSON events on stdout,
    stderr to ``<log_dir>/<name>.log``."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self.name = name
        self.proc = proc
        self.log_path = log_path
        self.events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._reader = asyncio.get_running_loop().create_task(self._read(), name=name)

    @classmethod
    async def start(
        cls,
        name: str,
        module: str,
        args: list[str],
        log_dir: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        own_session: bool = False,
    ) -> Child:
        """Start the child; ``own_session`` puts it in a session of its own, and so (with
        the kernel's autogroup scheduling) in a scheduling group of its own, as a service
        in its own cgroup is in production."""
        log_path = log_dir / f"{name}.log"
        with _open_log(log_path) as stderr:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                module,
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=own_session,
            )
        return cls(name, proc, log_path)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                log.debug("%s: %r", self.name, line[:200])  # e.g. the server's banner
                continue
            await self.events.put(event)
        await self.events.put(None)

    async def send(self, cmd: str, **data: Any) -> None:
        assert self.proc.stdin is not None
        if self.proc.stdin.is_closing():
            return
        self.proc.stdin.write((json.dumps({"cmd": cmd, **data}) + "\n").encode())
        with contextlib.suppress(ConnectionError):
            await self.proc.stdin.drain()

    async def expect(self, event: str, timeout: float) -> dict[str, Any]:
        """The next event, which must be ``event``."""
        try:
            async with asyncio.timeout(timeout):
                got = await self.events.get()
        except TimeoutError:
            raise ChildFailed(f"{self.name}: no {event!r} within {timeout} s") from None
        if got is None:
            raise ChildFailed(f"{self.name} exited; see {self.log_path}")
        if got.get("event") != event:
            raise ChildFailed(f"{self.name}: expected {event!r}, got {got}")
        return got

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def stop(self, exit_wait: float = 0.0, term_wait: float = 5.0) -> None:
        """Wait ``exit_wait`` s for the child to exit by itself, then SIGTERM, then kill
        after ``term_wait`` s; always reaps the process."""
        if self.proc.returncode is None and exit_wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), exit_wait)
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), term_wait)
            except TimeoutError:
                log.warning("%s ignored SIGTERM; killing it", self.name)
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
