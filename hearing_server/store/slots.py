"""Mediators' windows and the parties' slot links (:mod:`hearing_server.core.slots`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from hearing_server.core.slots import SlotLink, Window


class SlotStore(Protocol):
    """Windows are added in batches, checked against the mediator's others in the same step;
    a slot link is picked once."""

    async def add_windows(
        self, windows: list[Window], *, check: Callable[[list[Window]], None]
    ) -> None:
        """Atomically with other writers: call ``check`` with the stored windows of the same
        mediators that overlap the new ones' span (it raises to refuse), then store them."""
        ...

    async def list_windows(
        self, *, start: datetime, end: datetime, mediator_key: str | None = None
    ) -> list[Window]:
        """Windows overlapping ``[start, end)``, by start."""
        ...

    async def add_slot_link(self, link: SlotLink) -> None: ...

    async def slot_link_by_token(self, token_hash: str) -> SlotLink:
        """Raises ``NotFound``."""
        ...

    async def mark_slot_link_picked(self, link_id: str, at: datetime) -> bool:
        """Set the link's ``picked_at`` if it has none; whether it did."""
        ...
