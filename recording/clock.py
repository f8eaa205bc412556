"""The recording's clock (one start instant per recording, shared by every track) and how
times are written into a manifest."""

from __future__ import annotations

from datetime import UTC, datetime

from mediakit import HearingClock

__all__ = ["HearingClock", "iso", "to_us"]


def iso(at: datetime) -> str:
    """UTC, ISO 8601, microseconds: the form every time in a manifest has."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def to_us(seconds: float) -> int:
    """Seconds as whole microseconds (manifests hold integers, never floats)."""
    return round(seconds * 1_000_000)
