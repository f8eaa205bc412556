"""The clerk's board over HTTP: today's hearings and the alerts (staff), and the participants'
self-test reports that feed it."""

from __future__ import annotations

from aiohttp import web

from hearing_server.keys import BOARD
from hearing_server.schema import Field, Schema
from hearing_server.service.board import HELP_REASONS

from .auth import join_claims, staff_actor
from .schemas import read_json

_RESULT = ("ok", "warn", "fail", "skipped", "good", "poor", "bad")

SELF_TEST = Schema(
    "SelfTestReport",
    (
        Field("camera", "enum", enum=_RESULT, required=False, nullable=True),
        Field("microphone", "enum", enum=_RESULT, required=False, nullable=True),
        Field("speaker", "enum", enum=_RESULT, required=False, nullable=True),
        Field("network", "enum", enum=("good", "poor", "bad"), required=False, nullable=True),
    ),
)


HELP_REQUEST = Schema(
    "HelpRequest",
    (Field("reason", "enum", enum=HELP_REASONS, description="what the participant is stuck on"),),
)


async def board(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    return web.json_response(await request.app[BOARD].snapshot(actor))


async def acknowledge_alert(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    alert = await request.app[BOARD].acknowledge(actor, request.match_info["alert_id"])
    return web.json_response({"alert": alert.to_json()})


async def my_self_test(request: web.Request) -> web.Response:
    claims = await join_claims(request)
    body = await read_json(request, SELF_TEST)
    results = {k: v for k, v in body.items() if v is not None}
    return web.json_response(await request.app[BOARD].report_self_test(claims.actor, results))


async def my_help(request: web.Request) -> web.Response:
    claims = await join_claims(request)
    body = await read_json(request, HELP_REQUEST)
    return web.json_response(await request.app[BOARD].request_help(claims.actor, body["reason"]))
