"""The transcript over HTTP: read, export, correct (clerk), finalise (judge)."""

from __future__ import annotations

from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import web

from hearing_server.core.actors import Actor
from hearing_server.keys import SETTINGS, TRANSCRIPTS
from hearing_server.schema import Field, Schema
from hearing_server.service.transcripts import ExportFormat

from . import schemas
from .auth import join_claims, staff_actor
from .errors import ApiError

CORRECTION = Schema(
    "TranscriptCorrection",
    (
        Field("seq", "integer"),
        Field("text", "string", max_length=4000),
        Field("reason", "string", required=False, max_length=500),
    ),
)


async def _participant(request: web.Request) -> Actor:
    claims = await join_claims(request)
    return claims.actor


def _format(request: web.Request) -> ExportFormat:
    raw = request.match_info["fmt"]
    try:
        return ExportFormat(raw)
    except ValueError as exc:
        formats = ", ".join(f.value for f in ExportFormat)
        raise ApiError(404, "not_found", f"unknown format {raw!r}; use {formats}") from exc


def attachment(filename: str) -> str:
    """A Content-Disposition for ``filename`` (RFC 6266): an ASCII fallback for old clients
    and the exact UTF-8 name (case numbers carry Chinese characters) in ``filename*``."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
                       for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def _export(request: web.Request, actor: Actor, hearing_id: str) -> web.Response:
    court_tz = request.app[SETTINGS].court_timezone
    exported = await request.app[TRANSCRIPTS].export(
        actor,
        hearing_id,
        _format(request).value,
        tz=ZoneInfo(court_tz) if court_tz else None,  # wall times in the court's own zone
    )
    return web.Response(
        body=exported.content,
        content_type=exported.media_type.split(";")[0],
        headers={"Content-Disposition": attachment(exported.filename)},
    )


async def my_export(request: web.Request) -> web.Response:
    actor = await _participant(request)
    assert actor.hearing_id is not None
    return await _export(request, actor, actor.hearing_id)


async def staff_export(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    return await _export(request, actor, request.match_info["hearing_id"])


async def my_correct(request: web.Request) -> web.Response:
    actor = await _participant(request)
    body = await schemas.read_json(request, CORRECTION)
    assert actor.hearing_id is not None
    line = await request.app[TRANSCRIPTS].correct_segment(
        actor, actor.hearing_id, body["seq"], body["text"], reason=body.get("reason") or ""
    )
    return web.json_response(line.to_json())


async def my_finalise(request: web.Request) -> web.Response:
    actor = await _participant(request)
    assert actor.hearing_id is not None
    transcript = await request.app[TRANSCRIPTS].finalise(actor, actor.hearing_id)
    return web.json_response(
        {"finalised": transcript.finalised is not None, "lines": len(transcript.lines)}
    )
