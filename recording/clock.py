"""The hearing clock: one start instant per recording, shared by every track."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, slots=True)
class HearingClock:
    """The instant a recording started, as wall-clock time (UTC) and as ``time.monotonic()``.

    Offsets on the hearing clock are seconds since that instant. Frames carry their arrival
    as a monotonic time, so a track's start offset is ``arrival - mono_start``; the wall
    clock is only used to label times for people (it may jump; the monotonic clock does not).
    """

    wall_start: datetime
    mono_start: float

    @classmethod
    def now(cls) -> HearingClock:
        return cls(wall_start=datetime.now(UTC), mono_start=time.monotonic())

    def offset(self, monotonic: float) -> float:
        """Seconds on the hearing clock of a ``time.monotonic()`` value."""
        return monotonic - self.mono_start

    def offset_now(self) -> float:
        return self.offset(time.monotonic())

    def wall(self, offset: float) -> datetime:
        """The wall-clock time (UTC) of an offset on the hearing clock."""
        return self.wall_start + timedelta(seconds=offset)


def iso(at: datetime) -> str:
    """UTC, ISO 8601, microseconds: the form every time in a manifest has."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def to_us(seconds: float) -> int:
    """Seconds as whole microseconds (manifests hold integers, never floats)."""
    return round(seconds * 1_000_000)
