"""Recordings over HTTP: list and download for the judge, clerk and court staff only."""

from __future__ import annotations

import asyncio

from aiohttp import web

from hearing_server.core.errors import Forbidden
from hearing_server.core.permissions import Action, authorize
from hearing_server.keys import HEARINGS, RECORDING_CATALOG, RECORDING_PUBLIC_KEY
from recording import RecordingNotFound
from recording.catalog import media_type

from .auth import join_claims, staff_actor
from .errors import ApiError


async def _hearing_for(request: web.Request, *, staff: bool) -> str:
    """The hearing whose recordings the caller may see, or 403/401."""
    if staff:
        actor = await staff_actor(request)
        hearing = await request.app[HEARINGS].get_hearing(actor, request.match_info["hearing_id"])
        return hearing.id
    claims = await join_claims(request)
    participant = await request.app[HEARINGS].store.get_participant(claims.participant_id)
    hearing = await request.app[HEARINGS].store.get_hearing(claims.hearing_id)
    if participant.removed:
        raise Forbidden("you were removed from this hearing")
    authorize(claims.actor, Action.LIST_RECORDINGS, hearing)
    return claims.hearing_id


async def _list(request: web.Request, hearing_id: str) -> web.Response:
    catalog = request.app[RECORDING_CATALOG]
    recordings = await asyncio.to_thread(catalog.list, hearing_id)
    return web.json_response({"recordings": [r.to_dict() for r in recordings]})


async def _download(request: web.Request, hearing_id: str) -> web.StreamResponse:
    catalog = request.app[RECORDING_CATALOG]
    rid, file = request.match_info["recording_id"], request.match_info["file"]
    try:
        path = await asyncio.to_thread(catalog.resolve, hearing_id, rid, file)
    except RecordingNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    return web.FileResponse(path, headers={"Content-Type": media_type(file)})


async def staff_list(request: web.Request) -> web.Response:
    return await _list(request, await _hearing_for(request, staff=True))


async def staff_download(request: web.Request) -> web.StreamResponse:
    return await _download(request, await _hearing_for(request, staff=True))


async def my_list(request: web.Request) -> web.Response:
    return await _list(request, await _hearing_for(request, staff=False))


async def my_download(request: web.Request) -> web.StreamResponse:
    return await _download(request, await _hearing_for(request, staff=False))


async def public_key(request: web.Request) -> web.Response:
    """The key that signs recording manifests: anyone may verify a recording with it."""
    pem, fingerprint = request.app[RECORDING_PUBLIC_KEY]
    return web.json_response({"public_key_pem": pem, "fingerprint": fingerprint})
