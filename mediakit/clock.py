"""The hearing clock: one origin instant, then the monotonic clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def _utcnow() -> datetime:
    return datetime.now(UTC)


class HearingClock:
    """Seconds since ``origin`` (an aware wall-clock instant; default: now).

    It reads the wall clock once and the monotonic clock after, so wall-clock jumps (NTP) never
    move it. Frames carry their arrival as a ``time.monotonic()`` value, so a frame's offset is
    ``arrival - mono_start``; the wall clock only labels times for people.
    """

    def __init__(
        self,
        origin: datetime | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = _utcnow,
    ) -> None:
        now_wall = wall()
        now_mono = monotonic()
        self._origin = origin or now_wall
        if self._origin.tzinfo is None:
            raise ValueError("the hearing clock's origin must be timezone-aware")
        self._mono = monotonic
        self._mono_start = now_mono - (now_wall - self._origin).total_seconds()

    @property
    def origin(self) -> datetime:
        """The wall-clock instant at offset 0."""
        return self._origin

    @property
    def mono_start(self) -> float:
        """The ``time.monotonic()`` value at offset 0."""
        return self._mono_start

    def now(self) -> float:
        """Seconds on this clock now."""
        return self._mono() - self._mono_start

    def offset(self, monotonic: float) -> float:
        """Seconds on this clock of a ``time.monotonic()`` value."""
        return monotonic - self._mono_start

    def wall(self, offset: float) -> datetime:
        """The wall-clock time of an offset on this clock."""
        return self._origin + timedelta(seconds=offset)
