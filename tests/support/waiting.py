"""Waiting for a condition in tests: poll it until it holds, or fail saying what was awaited.

Tests wait for conditions, never for a machine to be fast enough: the timeout only bounds a
hang, so it is generous.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def wait_until(
    predicate: Callable[[], bool],
    timeout: float = 20.0,
    what: str = "condition",
    describe: Callable[[], str] | None = None,
    *,
    interval: float = 0.02,
) -> None:
    """Poll ``predicate`` until it is true; fail with ``what`` (and ``describe()``) after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            detail = f": {describe()}" if describe is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        await asyncio.sleep(interval)


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float, what: str, interval: float = 0.25
) -> Any:
    """Await ``check`` until it returns something truthy, and return that; fail with ``what``
    and the last answer after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
