"""Run the server until SIGTERM or SIGINT, then shut down within a bounded time.

Around the app (``create_app``) this adds what belongs to the server *process*:

- the data dir's run directory (``lifeline.RunDir``): a second server on the same data dir is
  refused, and children a crashed run left running are reported and stopped;
- the shutdown: the app's own cleanup (recordings finished and signed, queued speech
  transcribed, database closed) gets ``shutdown_grace_seconds``; a second signal cuts it
  short. Then every child process still running is stopped (SIGTERM, SIGKILL 2 s later).
  Exit status 0 when the cleanup finished in time and no child had to be stopped, 1 otherwise;
- a deadline: a cleanup that ignores cancellation, or a thread that never ends (the
  interpreter waits for non-daemon threads at exit), must not keep a stopped server alive, so
  the process exits hard once the grace, the children's stop and a margin have passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from aiohttp import web

import lifeline
from hearing_server.access_log import RedactingAccessLogger
from hearing_server.app import create_app
from hearing_server.config import Settings

log = logging.getLogger(__name__)

SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT)
CHILD_STOP_S = 2.0
"""After the grace: how long children get between SIGTERM and SIGKILL."""
AFTER_CHILDREN_S = 2.0
"""Once the children are stopped: for the rest of a cleanup that was waiting for one of them."""
CANCEL_WAIT_S = 1.0
"""Then for a cleanup that is cut off to unwind."""
DEADLINE_MARGIN_S = 2.0
"""Past all of the above (and SIGKILL's second), before the process exits hard."""
UNCLEAN_EXIT_STATUS = 1


class CannotListen(Exception):
    """The server's address could not be bound (taken, or not this machine's)."""


def longest_shutdown(grace: float) -> float:
    """From the signal to the process's end, at most (the deadline)."""
    after_grace = CHILD_STOP_S + lifeline.KILL_WAIT_S + AFTER_CHILDREN_S + CANCEL_WAIT_S
    return grace + after_grace + DEADLINE_MARGIN_S


def open_run_dir(settings: Settings, path: Path | None = None) -> lifeline.RunDir:
    """Lock the data dir for this server (``lifeline.DataDirInUse`` if another has it) and deal
    with what a previous run left behind. ``path``: another run dir than the data dir's (a
    worker's, under its supervisor's)."""
    run = lifeline.RunDir.acquire(path or settings.run_dir)
    previous = run.previous_server
    if previous is not None:
        log.warning(
            "the previous server on %s (pid %s) did not shut down cleanly",
            settings.data_dir,
            previous.get("pid"),
        )
    for leftover in run.sweep(timeout=CHILD_STOP_S):
        log.warning("child process left running by a previous server: %s", leftover)
    return run


def serve(
    settings: Settings, run: lifeline.RunDir, on_ready: Callable[[], None] | None = None
) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit status. ``on_ready`` is called once the
    server listens (a worker tells its supervisor)."""
    with _children_record_in(run):
        return asyncio.run(_serve(settings, _Deadline(), on_ready))


@contextlib.contextmanager
def _children_record_in(run: lifeline.RunDir) -> Iterator[None]:
    """Children inherit the environment: guarded ones record themselves in the run dir."""
    saved = {name: os.environ.get(name) for name in run.environ()}
    os.environ.update(run.environ())
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def _serve(
    settings: Settings, deadline: _Deadline, on_ready: Callable[[], None] | None
) -> int:
    grace = settings.shutdown_grace_seconds
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    hurry = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if stop_requested.is_set():
            log.warning("%s again: cutting the shutdown short", sig.name)
            hurry.set()
        else:
            log.info("%s: shutting down (grace %g s)", sig.name, grace)
            stop_requested.set()

    for sig in SHUTDOWN_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    # Connections still open get half the grace; the app's resources the rest.
    runner = web.AppRunner(
        create_app(settings),
        handle_signals=False,
        shutdown_timeout=grace / 2,
        access_log_class=RedactingAccessLogger,  # no service link or ticket in the log
    )
    starting = asyncio.create_task(_start(runner, settings, on_ready))
    stopping = asyncio.create_task(stop_requested.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # a failed start raises, after the shutdown below
            await stopping
        else:
            log.warning("stop requested while starting")
    finally:
        stopping.cancel()
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await starting  # its error, if any, was raised above
        deadline.arm(longest_shutdown(grace))
        clean = await _shut_down(runner, grace, hurry)
        for sig in SHUTDOWN_SIGNALS:
            loop.remove_signal_handler(sig)
    return 0 if clean else UNCLEAN_EXIT_STATUS


async def _start(
    runner: web.AppRunner, settings: Settings, on_ready: Callable[[], None] | None
) -> None:
    await runner.setup()  # the app's start-up: opens the store, starts the engine's process
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
    except OSError as exc:
        raise CannotListen(f"cannot listen on {settings.host}:{settings.port}: {exc}") from exc
    if on_ready is not None:
        on_ready()
    # a worker of several: its own address (its links still point at public_url)
    url = settings.effective_node_url if settings.node_url else settings.effective_public_url
    print(f"hearing-server listening on {url}", flush=True)
    print(f"admin API key is in {settings.admin_api_key_path} (unless set in config)", flush=True)


async def _shut_down(runner: web.AppRunner, grace: float, hurry: asyncio.Event) -> bool:
    """The app's cleanup within ``grace`` seconds, then every child stopped. True if clean."""
    cleanup = asyncio.create_task(runner.cleanup())
    hurried = asyncio.create_task(hurry.wait())
    await asyncio.wait({cleanup, hurried}, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
    hurried.cancel()
    in_time = cleanup.done()
    if not in_time:
        why = "was cut short" if hurry.is_set() else f"did not finish within {grace:g} s"
        log.error("the shutdown %s: stopping the child processes", why)
    # In a thread, so that a cleanup that waits for a hung child goes on once the child is
    # killed (and still closes the database) rather than being cut off half-way.
    no_children = await asyncio.to_thread(stop_children, CHILD_STOP_S)
    if not cleanup.done():
        await asyncio.wait({cleanup}, timeout=AFTER_CHILDREN_S)
    if not cleanup.done():
        log.error("the shutdown is still not finished: cutting it off")
        cleanup.cancel()
        await asyncio.wait({cleanup}, timeout=CANCEL_WAIT_S)  # the deadline covers the rest
        return False
    if cleanup.cancelled() or cleanup.exception() is not None:
        error = None if cleanup.cancelled() else cleanup.exception()
        log.error("the shutdown failed", exc_info=error)
        return False
    return in_time and no_children


def stop_children(timeout: float) -> bool:
    """Stop every process below this one that is still running; True if there was none."""
    children = {
        p.pid: p for p in lifeline.descendants(os.getpid()) if not lifeline.is_resource_tracker(p)
    }
    had_to_stop = False
    for pid, outcome in lifeline.stop(children.values(), timeout=timeout).items():
        if outcome is not lifeline.Outcome.GONE:  # not merely finishing its exit
            had_to_stop = True
            command = " ".join(children[pid].cmdline)[:200]
            log.error("child process %s still running at exit, %s: %s", pid, outcome, command)
    return not had_to_stop


class _Deadline:
    """Exits the process hard if it is still there ``seconds`` after :meth:`arm`.

    A daemon thread that is never disarmed: it must also bound what happens after ``serve``
    returns (the event loop's and the interpreter's own shutdown), and it ends with the
    process.
    """

    def arm(self, seconds: float) -> None:
        threading.Thread(
            target=self._expire, args=(seconds,), name="shutdown deadline", daemon=True
        ).start()

    @staticmethod
    def _expire(seconds: float) -> None:
        time.sleep(seconds)
        log.critical("still not stopped %g s after the shutdown began: exiting now", seconds)
        stop_children(0.5)
        logging.shutdown()
        os._exit(UNCLEAN_EXIT_STATUS)
