"""Owned background work: what follows from an action runs after the action has answered.

A judge's close is durable once the store has it; draining speech recognition, signing the
recording's last segment and stopping the compositor follow from it but must never hold the
judge's console. Consumers of service events hand such work to their :class:`BackgroundWork`:
every task is tracked, its failure is logged and reported (``on_failure``, e.g. an alert to the
judge and clerk), and ``close()`` lets it finish within a grace period, then cancels it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

FailureReport = Callable[[str, str, BaseException], Awaitable[None]]
"""Called with (key, what, exception) when a piece of work fails."""


class BackgroundWork:
    """The background tasks of one owner, keyed (e.g. by hearing id)."""

    def __init__(self, owner: str, *, on_failure: FailureReport | None = None) -> None:
        self._owner = owner
        self._on_failure = on_failure
        self._tasks: dict[str, set[asyncio.Task[None]]] = {}
        self._closed = False

    def start(self, key: str, work: Coroutine[Any, Any, None], *, what: str) -> None:
        """Run ``work`` (described as ``what`` in logs and reports) in the background."""
        if self._closed:
            work.close()
            raise RuntimeError(f"{self._owner} is closed; cannot start {what}")
        task = asyncio.create_task(self._run(key, work, what), name=f"{self._owner}:{what}:{key}")
        self._tasks.setdefault(key, set()).add(task)
        task.add_done_callback(lambda t: self._forget(key, t))

    def busy(self, key: str) -> bool:
        """True while work for ``key`` is still running."""
        return bool(self._tasks.get(key))

    async def settle(self, key: str) -> None:
        """Wait until the work for ``key`` that is running now has finished."""
        tasks = list(self._tasks.get(key, ()))
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self, grace: float | None = None) -> None:
        """Let running work finish (within ``grace`` seconds, if given), then cancel the rest.

        Idempotent; nothing can be started afterwards.
        """
        self._closed = True
        tasks = [t for ts in self._tasks.values() for t in ts]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            log.warning("%s: cancelling %s after %ss", self._owner, task.get_name(), grace)
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _run(self, key: str, work: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("%s: %s for %s failed", self._owner, what, key)
            if self._on_failure is not None:
                try:
                    await self._on_failure(key, what, exc)
                except Exception:
                    log.exception("%s: reporting the failure of %s failed", self._owner, what)

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        tasks = self._tasks.get(key)
        if tasks is not None:
            tasks.discard(task)
            if not tasks:
                del self._tasks[key]
