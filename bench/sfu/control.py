"""The line protocol between the orchestrator and its child processes.

A child reads one JSON command per line on stdin (``{"cmd": "mark", "label": ...}``,
``{"cmd": "stop"}``) and writes one JSON event per line on stdout; logs go to stderr.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from .loopback import use_loopback_only

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent exits (no orphans)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def emit(event: str, **data: Any) -> None:
    """Write one event line to stdout."""
    sys.stdout.write(json.dumps({"event": event, **data}) + "\n")
    sys.stdout.flush()


async def commands() -> asyncio.StreamReader:
    """An asyncio reader over stdin."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def next_command(reader: asyncio.StreamReader) -> dict[str, Any]:
    """The next command; ``{"cmd": "stop"}`` when stdin closes."""
    line = await reader.readline()
    if not line:
        return {"cmd": "stop"}
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError(f"bad command line: {line!r}")
    return data


def run_child(run: Callable[[dict[str, Any]], Coroutine[Any, Any, None]]) -> None:
    """A client child's ``main``: it dies with its parent, logs warnings, gathers ICE
    candidates on loopback only, and runs ``run`` with the JSON spec given as its argument."""
    die_with_parent()
    logging.basicConfig(level=logging.WARNING)
    use_loopback_only()
    asyncio.run(run(json.loads(sys.argv[1])))
