"""``hearing-server serve --workers N``: this process starts N worker processes and keeps them.

- Worker 0 starts first and the others once it listens: the first start of a data dir
  creates the schema and the keys, and workers starting together must not race for them.
- SIGTERM or SIGINT is forwarded to every worker, which shuts down as a lone server does
  (``hearing_server.serve``); a second signal is forwarded too and cuts their shutdown short.
  Workers that are still running ``stop_timeout`` seconds later are killed. Exit status 0 when
  every worker stopped cleanly (status 0), 1 otherwise.
- A worker that exits on its own is started again after a backoff (1 s, doubling up to
  30 s; back to 1 s once a worker has run a minute), and the exit is logged.
- A worker that exits before listening ``START_ATTEMPTS`` times in a row (a port taken, a
  database or Redis that does not answer) ends the whole server: the other workers are
  stopped and the exit status is 1, with one line saying which worker and why.
- The workers are in their own process group (a terminal's Ctrl-C reaches only this process,
  which forwards it once) and are guarded children (``lifeline.guard``): they die with this
  process however it ends.

Each worker tells its supervisor that it listens by writing a byte into a pipe whose write end
it inherited (``--ready-fd``); end of file without it means the worker exited first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT)
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0
STABLE_S = 60.0
"""A worker that ran this long before it exited is restarted after the first backoff again."""
START_ATTEMPTS = 3
"""Failed starts in a row (exit before listening) after which the server gives up."""
FAILED_EXIT_STATUS = 1

WorkerCommand = Callable[[int, int], list[str]]
"""The command line of worker ``index``, given the write end of its readiness pipe."""


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


class Supervisor:
    """Runs ``count`` workers until a shutdown signal (or until one keeps failing to start)."""

    def __init__(
        self,
        count: int,
        command: WorkerCommand,
        *,
        env: Mapping[str, str],
        stop_timeout: float,
        where: Callable[[int], str],
    ) -> None:
        self._count = count
        self._command = command
        self._env = dict(env)
        self._stop_timeout = stop_timeout
        self._where = where
        self._procs: dict[int, asyncio.subprocess.Process] = {}
        self._last_status: dict[int, int] = {}
        self._stopping = asyncio.Event()
        self._failure: str | None = None

    async def run(self) -> int:
        """Start the workers and supervise them; returns the exit status."""
        loop = asyncio.get_running_loop()
        for sig in SHUTDOWN_SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        first_ready = asyncio.Event()
        keepers = [asyncio.create_task(self._keep(0, first_ready), name="worker 0")]
        try:
            ready = asyncio.create_task(first_ready.wait())
            stopping = asyncio.create_task(self._stopping.wait())
            await asyncio.wait({ready, stopping, keepers[0]}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            stopping.cancel()
            if keepers[0].done():
                keepers[0].result()  # raises what went wrong (it returns only at the stop)
            if not self._stopping.is_set():
                keepers += [
                    asyncio.create_task(self._keep(i, asyncio.Event()), name=f"worker {i}")
                    for i in range(1, self._count)
                ]
                await self._stopping.wait()
            await self._wait_for_workers()
            await asyncio.gather(*keepers)
        finally:
            for task in keepers:
                task.cancel()
            await asyncio.gather(*keepers, return_exceptions=True)
            for proc in self._procs.values():  # only after an error above: no orphans
                if proc.returncode is None:
                    proc.kill()
            for sig in SHUTDOWN_SIGNALS:
                loop.remove_signal_handler(sig)
        if self._failure is not None:
            log.critical("%s", self._failure)
            return FAILED_EXIT_STATUS
        unclean = {i: s for i, s in self._last_status.items() if s != 0}
        if unclean:
            log.error(
                "workers that did not stop cleanly: %s",
                ", ".join(f"{i} ({describe_exit(s)})" for i, s in sorted(unclean.items())),
            )
            return FAILED_EXIT_STATUS
        return 0

    @property
    def failure(self) -> str | None:
        """Why the server gave up, if it did."""
        return self._failure

    def _on_signal(self, sig: signal.Signals) -> None:
        if self._stopping.is_set():
            log.warning("%s again: passed on to the workers (cuts their shutdown short)", sig.name)
        else:
            log.info("%s: stopping %d workers", sig.name, len(self._live()))
            self._stopping.set()
        self._signal_all(sig)

    def _live(self) -> list[asyncio.subprocess.Process]:
        return [p for p in self._procs.values() if p.returncode is None]

    def _signal_all(self, sig: signal.Signals) -> None:
        for proc in self._live():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)

    def _give_up(self, why: str) -> None:
        self._failure = why
        if not self._stopping.is_set():
            self._stopping.set()
            self._signal_all(signal.SIGTERM)

    async def _wait_for_workers(self) -> None:
        waits = [asyncio.create_task(p.wait()) for p in self._live()]
        if not waits:
            return
        _, late = await asyncio.wait(waits, timeout=self._stop_timeout)
        if late:
            log.error(
                "%d workers still running %g s after the stop: killing them",
                len(late),
                self._stop_timeout,
            )
            for proc in self._live():
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            await asyncio.wait(waits)

    async def _keep(self, index: int, ready: asyncio.Event) -> None:
        """Worker ``index``: started, and started again when it exits, until the stop."""
        loop = asyncio.get_running_loop()
        failed_starts = 0
        quick_exits = 0
        while not self._stopping.is_set():
            read_end, write_end = os.pipe()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self._command(index, write_end),
                    env=self._env,
                    pass_fds=(write_end,),
                    process_group=0,
                )
            except BaseException:
                os.close(read_end)
                raise
            finally:
                os.close(write_end)
            self._procs[index] = proc
            if self._stopping.is_set():  # the signal came while it was being started
                proc.send_signal(signal.SIGTERM)
            started = loop.time()
            listening = await asyncio.to_thread(_wait_ready, read_end)
            if listening:
                failed_starts = 0
                log.info("worker %d (pid %d) listening at %s", index, proc.pid, self._where(index))
                ready.set()
            status = await proc.wait()
            self._last_status[index] = status
            if self._stopping.is_set():
                log.info("worker %d (pid %d) stopped: %s", index, proc.pid, describe_exit(status))
                return
            if not listening:
                failed_starts += 1
                if failed_starts >= START_ATTEMPTS:
                    self._give_up(
                        f"worker {index} failed to start {failed_starts} times in a row (last: "
                        f"{describe_exit(status)}; its own error is logged above): stopping"
                    )
                    return
            quick_exits = 1 if loop.time() - started >= STABLE_S else quick_exits + 1
            delay = min(RESTART_FIRST_S * 2 ** (quick_exits - 1), RESTART_MAX_S)
            log.error(
                "worker %d (pid %d) %s (%s); starting it again in %g s",
                index,
                proc.pid,
                "ended" if listening else "failed to start",
                describe_exit(status),
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)


def _wait_ready(read_end: int) -> bool:
    """True once the worker writes into the pipe; False at end of file (it exited first)."""
    try:
        return os.read(read_end, 1) != b""
    finally:
        os.close(read_end)
