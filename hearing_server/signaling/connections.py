"""The caps on socket.io connects from one client address: connections open at once, and
connects refused for their token (a token guessed is a secret checked, like a login)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol


class Bucket(Protocol):
    """A rate limit by key (``hearing_server.api.limits.RateLimiter``)."""

    def take(self, key: str, now: float | None = None) -> float: ...

    def peek(self, key: str, now: float | None = None) -> float: ...


class ConnectionsPerAddress:
    """Counts each client's open connections by address; ``admit`` refuses one past ``limit``.

    ``address_of`` names the client of a connection's environ (the socket peer, or what a
    trusted proxy forwarded: ``hearing_server.api.limits.environ_address``). ``failures``,
    when given, is spent by each connect refused for its token; an address with none left
    is refused before its token is looked at, until the bucket refills.
    """

    def __init__(
        self,
        limit: int,
        address_of: Callable[[Mapping[str, Any]], str],
        failures: Bucket | None = None,
    ) -> None:
        self.limit = limit
        self._address_of = address_of
        self._failures = failures
        self._by_sid: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def failure_wait(self, environ: Mapping[str, Any]) -> float:
        """Seconds this address must wait after too many refused tokens (0.0: none)."""
        if self._failures is None:
            return 0.0
        return self._failures.peek(self._address_of(environ))

    def failed(self, environ: Mapping[str, Any]) -> None:
        """A connect from this address was refused for its token."""
        if self._failures is not None:
            self._failures.take(self._address_of(environ))

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
