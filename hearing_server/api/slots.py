"""Mediators' windows and the parties' slot links over HTTP: staff publish windows and issue
links; the party's page (``/pick#token=...``) reads its offer and picks with the token alone.
Also the generated summons, served (staff)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from hearing_server.core.schedule import person
from hearing_server.keys import SETTINGS, SLOTS, SUMMONS
from hearing_server.schema import Field
from hearing_server.service.scheduling import booking_json
from hearing_server.service.serving import (
    LinkExpired,
    delivery_json,
    document_json,
    parse_recipients,
)
from hearing_server.service.slots import offer_json, window_json

from .auth import staff_actor
from .errors import ApiError

_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


async def _object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body must be JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return body


def _time(name: str, value: Any) -> datetime:
    parsed: datetime = Field(name, "datetime").parse(value)
    return parsed


def _mediator(raw: Any) -> Any:
    if not isinstance(raw, dict) or set(raw) - {"name", "id"}:
        raise ApiError(422, "invalid_field", "mediator must be {name, id?}")
    return person("mediator", raw.get("name"), raw.get("id"))


async def publish_windows(request: web.Request) -> web.Response:
    """``{mediator: {name, id?}, windows: [{start, end}]}``."""
    actor = await staff_actor(request)
    body = await _object(request)
    if set(body) - {"mediator", "windows"}:
        raise ApiError(422, "unknown_field", "send {mediator, windows}")
    mediator = _mediator(body.get("mediator"))
    raw = body.get("windows")
    if not isinstance(raw, list) or not all(
        isinstance(w, dict) and set(w) == {"start", "end"} for w in raw
    ):
        raise ApiError(422, "invalid_field", "windows must be a list of {start, end}")
    spans = [(_time("start", w["start"]), _time("end", w["end"])) for w in raw]
    windows = await request.app[SLOTS].publish(actor, mediator, spans)
    return web.json_response({"windows": [window_json(w) for w in windows]}, status=201)


async def list_windows(request: web.Request) -> web.Response:
    """``?from=&to=[&mediator=<name>[&mediator_id=]]``."""
    actor = await staff_actor(request)
    q = request.query
    for name in ("from", "to"):
        if name not in q:
            raise ApiError(422, "missing_field", f"?{name}= is required (ISO 8601 with offset)")
    key = None
    if "mediator" in q:
        key = person("mediator", q["mediator"], q.get("mediator_id")).key
    windows = await request.app[SLOTS].windows(
        actor, start=_time("from", q["from"]), end=_time("to", q["to"]), mediator_key=key
    )
    return web.json_response({"windows": [window_json(w) for w in windows]})


async def issue_slot_link(request: web.Request) -> web.Response:
    """``{mediator: {name, id?}, party: {name, id?, phone?, email?, time_zone?,
    participant_id?}, minutes, courtroom?}``."""
    actor = await staff_actor(request)
    body = await _object(request)
    if set(body) - {"mediator", "party", "minutes", "courtroom"}:
        raise ApiError(422, "unknown_field", "send {mediator, party, minutes, courtroom?}")
    mediator = _mediator(body.get("mediator"))
    raw = body.get("party")
    if not isinstance(raw, dict):
        raise ApiError(422, "invalid_field", "party must be an object")
    [recipient] = parse_recipients([{k: v for k, v in raw.items() if k != "id"}])
    party = person("party", recipient.name, raw.get("id") or recipient.phone, recipient.time_zone)
    minutes = body.get("minutes")
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise ApiError(422, "invalid_field", "minutes must be a whole number")
    courtroom = body.get("courtroom")
    link, url = await request.app[SLOTS].issue_link(
        actor,
        request.match_info["hearing_id"],
        mediator=mediator,
        party=party,
        recipient=recipient,
        minutes=minutes,
        courtroom=courtroom if courtroom is None else str(courtroom),
    )
    return web.json_response(
        {"id": link.id, "url": url, "expires_at": link.expires_at.isoformat()}, status=201
    )


async def offer(request: web.Request) -> web.Response:
    """The party's offer (the token is the only key)."""
    try:
        found = await request.app[SLOTS].offer(request.match_info["token"])
    except LinkExpired as exc:
        raise ApiError(410, "link_expired", exc.message) from None
    zone = request.app[SETTINGS].effective_court_timezone
    return web.json_response(offer_json(found, zone), headers=_NO_STORE)


async def pick(request: web.Request) -> web.Response:
    """``{start}``: one of the offered slots."""
    body = await _object(request)
    if set(body) != {"start"}:
        raise ApiError(422, "invalid_field", "send {start}")
    start = _time("start", body["start"])
    try:
        booking = await request.app[SLOTS].pick(request.match_info["token"], start)
    except LinkExpired as exc:
        raise ApiError(410, "link_expired", exc.message) from None
    return web.json_response(booking_json(booking), status=201, headers=_NO_STORE)


async def serve_summons(request: web.Request) -> web.Response:
    """``{recipient: {name, phone?, email?, participant_id?, time_zone?}, lang?}``."""
    actor = await staff_actor(request)
    body = await _object(request)
    if set(body) - {"recipient", "lang"}:
        raise ApiError(422, "unknown_field", "send {recipient, lang?}")
    [recipient] = parse_recipients([body.get("recipient")])
    lang = body.get("lang", "zh-CN")
    doc, deliveries = await request.app[SUMMONS].serve(
        actor, request.match_info["hearing_id"], recipient, lang=str(lang)
    )
    return web.json_response(
        {"document": document_json(doc), "deliveries": [delivery_json(d) for d in deliveries]},
        status=201,
    )
