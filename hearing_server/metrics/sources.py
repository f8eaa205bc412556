"""What the metrics read, as small protocols: the wiring hands in the server's own objects.

Nothing here keeps a number of its own: every value is read from its owner at scrape time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class LiveCounts:
    """Live hearings on this node by state, connected participants by role."""

    hearings: Mapping[str, int] = field(default_factory=dict)
    participants: Mapping[str, int] = field(default_factory=dict)


class RecordingLoad(Protocol):
    """The recording coordinator."""

    @property
    def active_recordings(self) -> int: ...

    @property
    def queued_frames(self) -> int: ...


class TranscriptionLoad(Protocol):
    """The transcription coordinator."""

    @property
    def transcribed_hearings(self) -> int: ...

    @property
    def queued_utterances(self) -> int: ...

    @property
    def pending_recognitions(self) -> int: ...


class LagReading(Protocol):
    """The load monitor's last evaluation (``media.load.LoadReading``)."""

    @property
    def lag_p95_ms(self) -> float: ...

    @property
    def lag_max_ms(self) -> float: ...


class LoadGauge(Protocol):
    """The load monitor (``media.load.LoadMonitor``)."""

    @property
    def level(self) -> int: ...

    @property
    def last(self) -> LagReading | None: ...

    @property
    def dropped_total(self) -> int: ...


class NodeRecord(Protocol):
    """This node as the cluster sees it (``cluster.NodeInfo``)."""

    @property
    def id(self) -> str: ...

    @property
    def draining(self) -> bool: ...


class NodePlacement(Protocol):
    """Where hearings are served (``cluster.Placement``)."""

    @property
    def node(self) -> NodeRecord: ...

    def owned(self) -> frozenset[str]: ...


@dataclass(frozen=True, slots=True)
class MetricSources:
    """The server's objects the metrics read. ``None``: that feature is not installed (its
    metrics are left out, not reported as zero)."""

    live: Callable[[], Awaitable[LiveCounts]]
    media: Callable[[], Mapping[str, int]]  # MediaRouter.stats()
    recording: RecordingLoad | None = None
    transcription: TranscriptionLoad | None = None
    load: LoadGauge | None = None
    placement: NodePlacement | None = None
    version: str = ""
