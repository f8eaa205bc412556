"""A process pool whose workers die with the process that made it.

Every pool of worker processes the server starts (the recognition engine, agreement signing,
face matching) is made here, so that none forgets the guard::

    pool = lifeline.guarded_pool("agreement signing", _child_init, (config,))

Each worker is started with ``spawn`` (no inherited threads or locks), calls :func:`guard`
first, then ``initializer(*initargs)``. Make the pool in the thread that will submit to it:
the parent it watches is taken there (:meth:`Parent.current`).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from .child import Parent, guard


def _start(
    parent: Parent, name: str, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
) -> None:
    guard(parent, name)
    if initializer is not None:
        initializer(*initargs)


def guarded_pool(
    name: str,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
    *,
    max_workers: int = 1,
) -> ProcessPoolExecutor:
    """A ``spawn`` process pool of ``max_workers`` whose workers exit within moments of this
    process's death, however it died. ``initializer`` (a module-level function) runs in each
    worker after the guard."""
    return ProcessPoolExecutor(
        max_workers=max_workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start,
        initargs=(Parent.current(), name, initializer, initargs),
    )
