"""The store's lifecycle: connecting, schema migrations, closing."""

from __future__ import annotations

from typing import Protocol


class StoreLifecycle(Protocol):
    """Opening and closing a store and reporting its schema version."""

    async def open(self) -> None:
        """Connect and apply pending schema migrations."""

    async def close(self) -> None:
        """Release the connection. Idempotent."""

    async def schema_version(self) -> int:
        """The highest schema migration applied (0 before any)."""
