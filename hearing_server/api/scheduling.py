"""Scheduling over HTTP (staff): book, reschedule and cancel a hearing, the court's calendar
and its courtrooms. A clash is a 409 whose body lists every clash."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from hearing_server.core.schedule import Clash, ScheduleConflict, ScheduledPerson, person
from hearing_server.keys import SCHEDULING, SETTINGS, STORE
from hearing_server.schema import Field, Schema
from hearing_server.service.scheduling import booking_json

from .auth import staff_actor
from .errors import ApiError

_TIMES = (
    Field("start", "datetime", description="ISO 8601 with its offset"),
    Field("end", "datetime", required=False, description="or duration_minutes"),
    Field("duration_minutes", "integer", required=False),
    Field(
        "courtroom",
        "string",
        required=False,
        nullable=True,
        max_length=100,
        description="one of the court's courtrooms; null: online only",
    ),
    Field(
        "override_reason",
        "string",
        required=False,
        max_length=500,
        description="book despite the clashes, for this reason (audited)",
    ),
)
SCHEDULE = Schema("Schedule", _TIMES)  # and "people": [{role, name, id?, time_zone?}]
RESCHEDULE = Schema("Reschedule", (*_TIMES, Field("reason", "string", max_length=500)))
CANCEL = Schema("Cancel", (Field("reason", "string", max_length=500),))


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body must be JSON") from None


def _end(values: dict[str, Any]) -> datetime:
    start: datetime = values["start"]
    if ("end" in values) == ("duration_minutes" in values):
        raise ApiError(422, "invalid_field", "give either end or duration_minutes")
    if "end" in values:
        end: datetime = values["end"]
        return end
    minutes = values["duration_minutes"]
    if not 0 < minutes <= 24 * 60:
        raise ApiError(422, "invalid_duration", "duration_minutes must be 1 to 1440")
    return start + timedelta(minutes=minutes)


def _people(raw: Any) -> list[ScheduledPerson]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError(422, "invalid_field", "people must be a list of {role, name, id?}")
    out = []
    for n, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) - {"role", "name", "id", "time_zone"}:
            raise ApiError(
                422, "invalid_field", f"person {n + 1} must be {{role, name, id?, time_zone?}}"
            )
        out.append(person(item.get("role"), item.get("name"), item.get("id"),
                          item.get("time_zone")))  # fmt: skip
    return out


async def _clashes_json(request: web.Request, found: list[Clash]) -> list[dict[str, Any]]:
    out = []
    for c in found:
        hearing = await request.app[STORE].get_hearing(c.hearing_id)
        out.append({**c.to_json(), "case_number": hearing.case_number, "title": hearing.title})
    return out


async def _answer(
    request: web.Request, call: Callable[[], Awaitable[Any]], status: int = 200
) -> web.Response:
    try:
        booking, found = await call()
    except ScheduleConflict as exc:
        return web.json_response(
            {
                "code": exc.code,
                "message": exc.message,
                "conflicts": await _clashes_json(request, exc.clashes),
                "hint": "resend with override_reason to book despite them (if you may)",
            },
            status=409,
        )
    body = booking_json(booking)
    body["overridden"] = await _clashes_json(request, found)
    return web.json_response(body, status=status)


async def schedule(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    raw = await _body(request)
    if not isinstance(raw, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    people = _people(raw.get("people"))
    values = SCHEDULE.parse({k: v for k, v in raw.items() if k != "people"})
    return await _answer(
        request,
        lambda: request.app[SCHEDULING].schedule(
            actor,
            request.match_info["hearing_id"],
            start=values["start"],
            end=_end(values),
            courtroom=values.get("courtroom"),
            people=people,
            override_reason=values.get("override_reason"),
        ),
        201,
    )


async def reschedule(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    values = RESCHEDULE.parse(await _body(request))
    return await _answer(
        request,
        lambda: request.app[SCHEDULING].reschedule(
            actor,
            request.match_info["hearing_id"],
            start=values["start"],
            end=_end(values),
            courtroom=values.get("courtroom"),
            keep_courtroom="courtroom" not in values,
            reason=values["reason"],
            override_reason=values.get("override_reason"),
        ),
    )


async def cancel(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    values = CANCEL.parse(await _body(request))
    booking = await request.app[SCHEDULING].cancel(
        actor, request.match_info["hearing_id"], reason=values["reason"]
    )
    return web.json_response(booking_json(booking))


async def get_schedule(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    booking = await request.app[SCHEDULING].get(actor, request.match_info["hearing_id"])
    return web.json_response(booking_json(booking))


def _query_time(request: web.Request, name: str) -> datetime:
    raw = request.query.get(name)
    if raw is None:
        raise ApiError(422, "missing_field", f"?{name}= is required (ISO 8601 with offset)")
    return Field(name, "datetime").parse(raw)  # type: ignore[no-any-return]


async def calendar(request: web.Request) -> web.Response:
    """``?from=&to=`` (ISO 8601 with offsets, at most 62 days apart), ``&cancelled=1`` to
    include cancelled bookings."""
    actor = await staff_actor(request)
    entries = await request.app[SCHEDULING].calendar(
        actor,
        _query_time(request, "from"),
        _query_time(request, "to"),
        include_cancelled=request.query.get("cancelled") in ("1", "true"),
    )
    settings = request.app[SETTINGS]
    return web.json_response(
        {
            "time_zone": settings.effective_court_timezone,
            "bookings": [
                {
                    **booking_json(e.booking),
                    "case_number": e.hearing.case_number,
                    "title": e.hearing.title,
                    "state": e.hearing.state.value,
                    "clashes": await _clashes_json(request, list(e.clashes)),
                }
                for e in entries
            ],
        }
    )


async def courtrooms(request: web.Request) -> web.Response:
    await staff_actor(request)
    settings = request.app[SETTINGS]
    return web.json_response(
        {
            "courtrooms": list(request.app[SCHEDULING].courtrooms),
            "time_zone": settings.effective_court_timezone,
        }
    )
