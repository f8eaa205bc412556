"""Presence on this node: who is connected, through which connection, and grace timers.

In-process state of the embedded default (one machine); rebuilt as participants reconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Presence:
    """Connections of every live hearing; owns the disconnect grace timers."""

    def __init__(self) -> None:
        self._connected: dict[str, set[str]] = {}  # hearing id -> connected participant ids
        self._hearing_of: dict[str, str] = {}  # connected participant id -> hearing id
        # participant id -> the connection that currently speaks for them; a newer
        # connection (a reload, a second device) replaces the older one
        self._connection: dict[str, str] = {}
        self._grace: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def connect(self, hearing_id: str, pid: str, connection_id: str) -> None:
        """``connection_id`` now speaks for ``pid``; any grace timer of theirs stops."""
        self.cancel_grace(pid)
        self._connected.setdefault(hearing_id, set()).add(pid)
        self._hearing_of[pid] = hearing_id
        self._connection[pid] = connection_id

    def forget(self, hearing_id: str, pid: str) -> None:
        """``pid`` is no longer connected (left, removed, or their connection dropped)."""
        self._connected.get(hearing_id, set()).discard(pid)
        self._hearing_of.pop(pid, None)
        self._connection.pop(pid, None)

    def connected(self, hearing_id: str) -> frozenset[str]:
        return frozenset(self._connected.get(hearing_id, ()))

    def hearing_ids(self) -> frozenset[str]:
        return frozenset(h for h, pids in self._connected.items() if pids)

    def is_connected(self, hearing_id: str, pid: str) -> bool:
        return pid in self._connected.get(hearing_id, set())

    def hearing_of(self, pid: str) -> str | None:
        return self._hearing_of.get(pid)

    def connection_of(self, pid: str) -> str | None:
        return self._connection.get(pid)

    def start_grace(self, pid: str, expiry: Coroutine[Any, Any, None]) -> None:
        """Run ``expiry`` as ``pid``'s grace timer (owned here; cancelled on reconnect)."""
        if self._closed:
            expiry.close()
            return
        self.cancel_grace(pid)
        self._grace[pid] = asyncio.create_task(expiry, name=f"grace:{pid}")

    def grace_ended(self, pid: str) -> None:
        """The timer of ``pid`` has fired: it is no longer cancellable."""
        self._grace.pop(pid, None)

    def cancel_grace(self, pid: str) -> None:
        task = self._grace.pop(pid, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        """Cancel every grace timer. Idempotent."""
        self._closed = True
        tasks = list(self._grace.values())
        self._grace.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
