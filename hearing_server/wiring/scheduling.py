"""Scheduling: the scheduling service, telling the served through electronic service."""

from __future__ import annotations

from aiohttp import web

from hearing_server import keys
from hearing_server.service.scheduling import SchedulingService


def install_scheduling(app: web.Application) -> None:
    """``keys.SCHEDULING``. Installed after electronic service, which sends its notices."""
    settings = app[keys.SETTINGS]
    app[keys.SCHEDULING] = SchedulingService(
        app[keys.HEARINGS], app[keys.SERVING], courtrooms=settings.courtrooms
    )
