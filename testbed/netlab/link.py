"""What one direction of an emulated link does to packets (the shaper applies it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Direction:
    """One direction of the link. All zero: a clean link."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0  # uniform in ±jitter around the delay (never below zero)
    loss: float = 0.0  # the share of packets lost, 0..1
    burst: float = 1.0  # mean length of a loss burst in packets (1: independent losses)
    rate_kbps: float = 0.0  # 0: unlimited
    queue_ms: float = 150.0  # the rate limiter's buffer: a packet that would wait longer is dropped

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Direction:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown link settings: {sorted(unknown)}")
        d = cls(**{k: float(v) for k, v in data.items()})
        if not 0.0 <= d.loss < 1.0 or d.burst < 1.0 or min(asdict(d).values()) < 0:
            raise ValueError(f"link settings out of range: {data}")
        return d
