"""Prometheus metrics: the app's own registry, reading the objects the features installed.

Installed after every feature it reads. A feature that is off (transcription, overload
shedding) has no metrics rather than zeros.
"""

from __future__ import annotations

import importlib.metadata

from aiohttp import web

from hearing_server import keys
from hearing_server.auth.keys import load_or_create_secret
from hearing_server.metrics import LiveCounts, MetricSources, ServerMetrics
from hearing_server.service.census import live_census

from .recording import RecordingCoordinator


def _version() -> str:
    try:
        return importlib.metadata.version("hearing-server")
    except importlib.metadata.PackageNotFoundError:
        return ""


def install_metrics(app: web.Application) -> None:
    """``app[keys.METRICS]`` (served at /metrics) and the token that guards it."""
    settings = app[keys.SETTINGS]
    live = app[keys.LIVE]

    async def live_counts() -> LiveCounts:
        census = await live_census(live)
        return LiveCounts(hearings=census.hearings, participants=census.participants)

    recordings = app.get(keys.RECORDINGS)
    app[keys.METRICS] = ServerMetrics(
        MetricSources(
            live=live_counts,
            media=app[keys.MEDIA].stats,
            recording=recordings if isinstance(recordings, RecordingCoordinator) else None,
            transcription=app.get(keys.TRANSCRIPTION_LOAD),
            load=app.get(keys.LOAD_MONITOR),
            placement=app.get(keys.PLACEMENT),
            version=_version(),
        )
    )
    app[keys.METRICS_TOKEN] = settings.metrics_token or load_or_create_secret(
        settings.metrics_token_path
    )
