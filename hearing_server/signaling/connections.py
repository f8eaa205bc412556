"""The cap on socket.io connections open at once from one client address."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class ConnectionsPerAddress:
    """Counts each client's open connections by address; ``admit`` refuses one past ``limit``.

    ``address_of`` names the client of a connection's environ (the socket peer, or what a
    trusted proxy forwarded: ``hearing_server.api.limits.environ_address``).
    """

    def __init__(self, limit: int, address_of: Callable[[Mapping[str, Any]], str]) -> None:
        self.limit = limit
        self._address_of = address_of
        self._by_sid: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def admit(self, sid: str, environ: Mapping[str, Any]) -> bool:
        """Count ``sid`` against its address; False (and not counted) when that is full."""
        if sid in self._by_sid:
            return True
        address = self._address_of(environ)
        count = self._counts.get(address, 0)
        if count >= self.limit:
            return False
        self._counts[address] = count + 1
        self._by_sid[sid] = address
        return True

    def release(self, sid: str) -> None:
        """``sid`` closed; idempotent, and a count that reaches zero is forgotten."""
        address = self._by_sid.pop(sid, None)
        if address is None:
            return
        left = self._counts[address] - 1
        if left:
            self._counts[address] = left
        else:
            del self._counts[address]

    def open_from(self, address: str) -> int:
        """How many connections ``address`` has open."""
        return self._counts.get(address, 0)
