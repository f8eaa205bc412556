"""Stand-ins for the objects the metrics read (unit tests of the collector and dashboard)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hearing_server.metrics import LiveCounts, MetricSources


@dataclass
class Media:
    numbers: dict[str, int] = field(default_factory=dict)

    def stats(self) -> Mapping[str, int]:
        return dict(self.numbers)


@dataclass
class Recording:
    active_recordings: int = 0
    queued_frames: int = 0


@dataclass
class Transcription:
    transcribed_hearings: int = 0
    queued_utterances: int = 0
    pending_recognitions: int = 0


@dataclass
class Reading:
    lag_p95_ms: float
    lag_max_ms: float


@dataclass
class Load:
    level: int = 0
    last: Reading | None = None
    dropped_total: int = 0


@dataclass
class Live:
    counts: LiveCounts = field(default_factory=LiveCounts)
    calls: int = 0

    async def __call__(self) -> LiveCounts:
        self.calls += 1
        return self.counts


@dataclass
class Node:
    id: str = "node-1"
    draining: bool = False


@dataclass
class Placement:
    node: Node = field(default_factory=Node)
    hearings: frozenset[str] = frozenset()

    def owned(self) -> frozenset[str]:
        return self.hearings


def every_source() -> MetricSources:
    """Every feature installed, the load monitor having evaluated once: all names appear."""
    return MetricSources(
        live=Live(),
        media=Media().stats,
        recording=Recording(),
        transcription=Transcription(),
        load=Load(last=Reading(1.0, 2.0)),
        placement=Placement(),
        version="test",
    )
