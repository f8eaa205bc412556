"""HTTP handlers: parse, call the service, shape the response. No rules live here."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from aiohttp import web

from cluster import NoNodeAvailable
from hearing_server.core.audit import verify_chain
from hearing_server.core.hearing import HearingAction, HearingKind, HearingState, Visibility
from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import HEARINGS, IDENTITY, PLACEMENT, SETTINGS, STORE, TOKENS
from hearing_server.service.hearings import hearing_to_json, participant_to_json

from . import schemas
from .auth import is_admin, join_claims, staff_actor
from .errors import ApiError

log = logging.getLogger(__name__)


def _query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, "invalid_query", f"{name} must be an integer") from exc
    if not lo <= value <= hi:
        raise ApiError(400, "invalid_query", f"{name} must be between {lo} and {hi}")
    return value


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        version = await request.app[STORE].schema_version()
    except Exception as exc:  # any store failure means "not ready", which is the answer
        return web.json_response({"status": "unavailable", "reason": str(exc)}, status=503)
    if request.app[PLACEMENT].node.draining:
        # Load balancers send no new clients; the hearings served here go on.
        return web.json_response({"status": "draining", "schema_version": version}, status=503)
    return web.json_response({"status": "ready", "schema_version": version})


async def create_hearing(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    body = await schemas.read_json(request, schemas.HEARING_CREATE)
    hearing = await request.app[HEARINGS].create_hearing(
        actor,
        kind=HearingKind(body.get("kind") or "hearing"),
        case_number=body["case_number"],
        court=body["court"],
        title=body["title"],
        scheduled_start=body["scheduled_start"],
        scheduled_end=body["scheduled_end"],
        visibility=Visibility(body.get("visibility") or "public"),
        language=body.get("language"),
    )
    return web.json_response(hearing_to_json(hearing), status=201)


async def list_hearings(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    raw_state = request.query.get("state")
    try:
        state = HearingState(raw_state) if raw_state else None
    except ValueError as exc:
        raise ApiError(400, "invalid_query", f"unknown state {raw_state!r}") from exc
    limit = _query_int(request, "limit", 100, 1, 500)
    offset = _query_int(request, "offset", 0, 0, 1_000_000)
    hearings = await request.app[HEARINGS].list_hearings(
        actor, state=state, limit=limit, offset=offset
    )
    return web.json_response({"hearings": [hearing_to_json(h) for h in hearings]})


async def get_hearing(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    service = request.app[HEARINGS]
    hearing = await service.get_hearing(actor, request.match_info["hearing_id"])
    participants = await service.list_participants(hearing.id)
    out = hearing_to_json(hearing)
    out["participants"] = [participant_to_json(p) for p in participants]
    return web.json_response(out)


async def update_hearing(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    body = await schemas.read_json(request, schemas.HEARING_UPDATE)
    if "visibility" in body:
        body["visibility"] = Visibility(body["visibility"])
    hearing = await request.app[HEARINGS].update_hearing(
        actor, request.match_info["hearing_id"], body
    )
    return web.json_response(hearing_to_json(hearing))


async def staff_transition(request: web.Request) -> web.Response:
    """Staff open or close a hearing; judicial transitions belong to the presiding judge."""
    actor = await staff_actor(request)
    body = await schemas.read_json(request, schemas.TRANSITION)
    action = HearingAction(body["action"])
    if action not in (HearingAction.OPEN, HearingAction.CLOSE):
        raise ApiError(
            403, "forbidden", "staff may open or close a hearing; the judge does the rest"
        )
    hearing = await request.app[HEARINGS].transition(
        actor, request.match_info["hearing_id"], action
    )
    return web.json_response(hearing_to_json(hearing))


async def participant_transition(request: web.Request) -> web.Response:
    """The presiding judge (join token) changes the hearing state."""
    claims = await join_claims(request)
    body = await schemas.read_json(request, schemas.TRANSITION)
    actor = claims.actor
    hearing = await request.app[HEARINGS].transition(
        actor,
        claims.hearing_id,
        HearingAction(body["action"]),
        next_sitting_id=body.get("next_sitting_id"),
    )
    return web.json_response(hearing_to_json(hearing))


async def add_participant(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    body = await schemas.read_json(request, schemas.PARTICIPANT_CREATE)
    participant = await request.app[HEARINGS].add_participant(
        actor,
        request.match_info["hearing_id"],
        role=Role(body["role"]),
        display_name=body["display_name"],
        side=PartySide(body["side"]) if body.get("side") else None,
        represents=body.get("represents"),
        interprets_for=body.get("interprets_for"),
        language=body.get("language"),
    )
    return web.json_response(participant_to_json(participant), status=201)


async def list_participants(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    service = request.app[HEARINGS]
    hearing = await service.get_hearing(actor, request.match_info["hearing_id"])
    participants = await service.list_participants(hearing.id)
    return web.json_response({"participants": [participant_to_json(p) for p in participants]})


async def issue_link(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    body: dict[str, Any] = {}
    if request.can_read_body:
        body = await schemas.read_json(request, schemas.LINK_CREATE)
    ttl = None
    if body.get("ttl_hours") is not None:
        if not 1 <= body["ttl_hours"] <= 720:
            raise ApiError(422, "invalid_field", "ttl_hours must be between 1 and 720")
        ttl = timedelta(hours=body["ttl_hours"])
    url, token, claims = await request.app[HEARINGS].issue_link(
        actor, request.match_info["participant_id"], ttl=ttl
    )
    return web.json_response(
        {
            "url": url,
            "token": token,
            "jti": claims.jti,
            "participant_id": claims.participant_id,
            "role": claims.role.value,
            "expires_at": claims.expires_at.isoformat(),
        },
        status=201,
    )


async def revoke_link(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    body = await schemas.read_json(request, schemas.LINK_REVOKE)
    claims = await request.app[HEARINGS].revoke_link(actor, body["token"])
    return web.json_response({"revoked": claims.jti})


async def audit_log(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    entries = await request.app[HEARINGS].audit_log(actor, request.match_info["hearing_id"])
    problems = verify_chain(entries)
    return web.json_response(
        {
            "entries": [
                {
                    "seq": e.seq,
                    "at": e.at,
                    "actor": e.actor,
                    "event": e.event,
                    "data": e.data,
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                }
                for e in entries
            ],
            "verified": not problems,
            "problems": [str(p) for p in problems],
        }
    )


async def create_staff_token(request: web.Request) -> web.Response:
    if not is_admin(request):
        raise ApiError(401, "unauthorized", "only the admin API key may issue staff tokens")
    body = await schemas.read_json(request, schemas.STAFF_TOKEN_CREATE)
    ttl = timedelta(hours=request.app[SETTINGS].staff_token_ttl_hours)
    token, claims = request.app[TOKENS].issue_staff(body["name"].strip(), ttl)
    return web.json_response(
        {"token": token, "expires_at": claims.expires_at.isoformat()}, status=201
    )


async def me(request: web.Request) -> web.Response:
    claims = await join_claims(request)
    view = await request.app[HEARINGS].participant_view(claims)
    # Where the participant stands in the identity step: the client shows that step only
    # while the server says it is pending.
    view["identity"] = await request.app[IDENTITY].view(claims.participant_id)
    # The court's number for someone stuck (shown with "ask the clerk for help"); "" if unset.
    view["help_phone"] = request.app[SETTINGS].court_phone
    # The node that serves the hearing (with several nodes): the page moves there before
    # anything else, so that its socket, media and requests all reach that node.
    view["node_url"] = await _node_url(request, claims.hearing_id)
    return web.json_response(view)


async def _node_url(request: web.Request, hearing_id: str) -> str | None:
    """The URL of the node serving the hearing; None when nobody can just now (the
    signaling connection then says when to try again)."""
    try:
        return (await request.app[PLACEMENT].owner(hearing_id)).url
    except NoNodeAvailable:
        return None
    except Exception:
        log.exception("placing hearing %s failed", hearing_id)
        return None
