"""Scheduling: each hearing's booking (:mod:`hearing_server.core.schedule`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from hearing_server.core.schedule import Booking


class ScheduleStore(Protocol):
    """One booking per hearing, changed by compare-and-set on its revision."""

    async def book(
        self,
        booking: Booking,
        *,
        expected_revision: int,
        check: Callable[[list[Booking]], None],
    ) -> None:
        """Atomically with every other booking: read the active bookings of other hearings
        that overlap ``booking``'s time, call ``check`` with them (it raises to refuse), then
        store ``booking`` if the stored one's revision is ``expected_revision`` (0: none is
        stored). Raises ``Conflict`` when the revision moved (someone else changed it)."""
        ...

    async def get_booking(self, hearing_id: str) -> Booking:
        """Raises ``NotFound``."""
        ...

    async def list_bookings(
        self, *, start: datetime, end: datetime, include_cancelled: bool = False
    ) -> list[Booking]:
        """Bookings whose time overlaps ``[start, end)``, by start."""
        ...
