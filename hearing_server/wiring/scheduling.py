"""Scheduling: bookings, the generated summons, mediators' windows and the parties' slot
links, all telling the served through electronic service."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from hearing_server import keys
from hearing_server.auth.keys import load_or_create_secret
from hearing_server.service.scheduling import SchedulingService
from hearing_server.service.slots import SlotService
from hearing_server.service.summons import SummonsService


def install_scheduling(app: web.Application) -> None:
    """``keys.SCHEDULING``, ``keys.SUMMONS``, ``keys.SLOTS``. Installed after electronic
    service, which sends their notices."""
    settings = app[keys.SETTINGS]
    hearings = app[keys.HEARINGS]
    scheduling = SchedulingService(
        hearings, app[keys.SERVING].notices, courtrooms=settings.courtrooms
    )
    summons = SummonsService(
        hearings, app[keys.SERVING], link_ttl=timedelta(hours=settings.token_ttl_hours)
    )
    # Slot links are made from the serving key (another purpose in the HMAC's message).
    secret = load_or_create_secret(settings.effective_serving_key_path)
    app[keys.SCHEDULING] = scheduling
    app[keys.SUMMONS] = summons
    app[keys.SLOTS] = SlotService(
        hearings,
        scheduling,
        summons,
        secret=secret.encode("ascii"),
        public_url=settings.effective_public_url,
    )
