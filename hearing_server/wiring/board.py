"""The clerk's board: the board service on the service bus (alerts come from its events)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from hearing_server import keys
from hearing_server.service.board import BoardService


def install_board(app: web.Application) -> None:
    """Today's hearings and their alerts, for the court's staff (GET /api/board, /board)."""
    settings = app[keys.SETTINGS]
    board = BoardService(
        app[keys.HEARINGS],
        app[keys.LIVE],
        app[keys.IDENTITY],
        court_tz=ZoneInfo(settings.court_timezone) if settings.court_timezone else None,
    )
    app[keys.EVENTS].subscribe(board.on_service_event)
    app[keys.BOARD] = board
