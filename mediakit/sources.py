"""Closing a frame source, whatever kind it is."""

from __future__ import annotations

import inspect


async def close_source(source: object) -> None:
    """Close a tap (``close()``, plain or async) or an async generator (``aclose()``).

    Consumers accept either, so that tests and the media router can hand them frames alike.
    Errors propagate: the caller decides whether a failing close matters.
    """
    for name in ("close", "aclose"):
        method = getattr(source, name, None)
        if callable(method):
            result = method()
            if inspect.isawaitable(result):
                await result
            return
