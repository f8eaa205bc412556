"""Prometheus metrics of one server process, read from its objects at scrape time."""

from .collector import ServerCollector
from .exposition import ServerMetrics
from .sources import (
    LagReading,
    LiveCounts,
    LoadGauge,
    MetricSources,
    NodePlacement,
    NodeRecord,
    RecordingLoad,
    TranscriptionLoad,
)

__all__ = [
    "LagReading",
    "LiveCounts",
    "LoadGauge",
    "MetricSources",
    "NodePlacement",
    "NodeRecord",
    "RecordingLoad",
    "ServerCollector",
    "ServerMetrics",
    "TranscriptionLoad",
]
