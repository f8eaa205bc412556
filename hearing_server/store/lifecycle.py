"""The store's lifecycle: connecting, schema migrations, closing."""

from __future__ import annotations

from typing import Protocol


class StoreUnavailable(Exception):
    """The database cannot be reached or refuses us; the message says which and why, fit to
    be shown to an operator as it is (it never holds a password)."""


class StoreLifecycle(Protocol):
    """Opening and closing a store and reporting its schema version."""

    async def open(self) -> None:
        """Connect and apply pending schema migrations.

        Raises :class:`StoreUnavailable` when the database cannot be reached (a server store
        retries for a bounded time first).
        """

    async def close(self) -> None:
        """Release the connection. Idempotent."""

    async def schema_version(self) -> int:
        """The highest schema migration applied (0 before any)."""
