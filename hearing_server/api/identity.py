"""HTTP handlers of identity checks: the staff register people and set the policy; a
participant takes their own checks with their join token (docs/protocol.md "Identity")."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from facekit import MAX_IMAGE_BYTES
from hearing_server.core.identity import (
    POLICY_ROLES,
    STEP_ORDER,
    IdentityPolicy,
    IdentityStep,
    IdType,
    Registration,
    mask_phone,
)
from hearing_server.core.participant import Role
from hearing_server.core.permissions import Action, authorize
from hearing_server.keys import IDENTITY, SETTINGS, STORE
from hearing_server.schema import Field, Schema
from messaging import read_outbox

from .auth import court_actor, join_claims, staff_actor
from .errors import ApiError
from .schemas import read_json

REGISTRATION = Schema(
    "Registration",
    (
        Field("legal_name", "string", max_length=100),
        Field("id_type", "enum", enum=tuple(t.value for t in IdType)),
        Field("id_number", "string", max_length=40, description="kept only as a keyed hash"),
        Field("phone", "string", max_length=32),
        Field("email", "string", required=False, nullable=True, max_length=254),
    ),
)

POLICY = Schema(
    "IdentityPolicy",
    (
        Field(
            "preset",
            "enum",
            required=False,
            enum=("standard", "id_and_code", "none"),
            description="start from this preset (default: the hearing's current policy)",
        ),
        *(
            Field(r.value, "enum_list", required=False, enum=STEP_ORDER, max_length=4)
            for r in POLICY_ROLES
        ),
    ),
)

ID_CHECK = Schema(
    "IdNumberCheck",
    (
        Field("legal_name", "string", max_length=100),
        Field("id_number", "string", max_length=40),
    ),
)

CODE_ENTRY = Schema("CodeEntry", (Field("code", "string", max_length=16),))

EMPTY = Schema("Empty", ())


async def _optional_body(request: web.Request, schema: Schema) -> dict[str, Any]:
    """A body that may be left out entirely (``{}`` otherwise, validated)."""
    if not request.can_read_body:
        return {}
    return await read_json(request, schema)


def registration_json(reg: Registration) -> dict[str, Any]:
    """A registration as staff see it: the ID number only by its last four characters."""
    return {
        "participant_id": reg.participant_id,
        "legal_name": reg.legal_name,
        "id_type": reg.id_type.value,
        "id_last4": reg.id_last4,
        "phone": mask_phone(reg.phone),
        "email": reg.email,
        "registered_at": reg.registered_at.isoformat(),
        "registered_by": reg.registered_by,
    }


# -- staff, and the judge or clerk of the participant's own hearing ------------------------------


async def put_registration(request: web.Request) -> web.Response:
    actor = await court_actor(request)
    body = await read_json(request, REGISTRATION)
    reg = await request.app[IDENTITY].register(
        actor,
        request.match_info["participant_id"],
        legal_name=body["legal_name"],
        id_type=IdType(body["id_type"]),
        id_number=body["id_number"],
        phone=body["phone"],
        email=body.get("email"),
    )
    return web.json_response(registration_json(reg))


async def get_registration(request: web.Request) -> web.Response:
    actor = await court_actor(request)
    reg = await request.app[IDENTITY].registration(actor, request.match_info["participant_id"])
    return web.json_response(registration_json(reg))


async def put_reference_photo(request: web.Request) -> web.Response:
    """The participant's reference photo: the body is the JPEG or PNG itself (5 MB at most).
    422 ``image_invalid`` / ``no_face`` / ``multiple_faces``."""
    actor = await court_actor(request)
    chunks: list[bytes] = []
    size = 0
    # Read here rather than with request.read(): the app's body limit is for JSON (64 kB).
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_IMAGE_BYTES:
            raise ApiError(
                422, "image_invalid", f"the photo is larger than {MAX_IMAGE_BYTES // 2**20} MB"
            )
        chunks.append(chunk)
    result = await request.app[IDENTITY].set_reference_photo(
        actor, request.match_info["participant_id"], b"".join(chunks)
    )
    return web.json_response(result)


async def get_policy(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    policy = await request.app[IDENTITY].get_policy(actor, request.match_info["hearing_id"])
    return web.json_response(policy.to_json())


async def put_policy(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    body = await read_json(request, POLICY)
    service = request.app[IDENTITY]
    hearing_id = request.match_info["hearing_id"]
    base = (
        IdentityPolicy.preset(body.pop("preset"))
        if "preset" in body
        else await service.get_policy(actor, hearing_id)
    )
    changes = {Role(k): tuple(IdentityStep(s) for s in v) for k, v in body.items()}
    policy = await service.set_policy(actor, hearing_id, base.with_roles(changes))
    return web.json_response(policy.to_json())


async def hearing_overview(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    hearing_id = request.match_info["hearing_id"]
    hearing = await request.app[STORE].get_hearing(hearing_id)
    authorize(actor, Action.VIEW_ALL_STATES, hearing)
    return web.json_response({"identity": await request.app[IDENTITY].overview(hearing_id)})


# -- the participant's own checks (join token) ---------------------------------------------------


async def my_identity(request: web.Request) -> web.Response:
    claims = await join_claims(request)
    return web.json_response(await request.app[IDENTITY].view(claims.participant_id))


async def my_id_number(request: web.Request) -> web.Response:
    claims = await join_claims(request)
    body = await read_json(request, ID_CHECK)
    result = await request.app[IDENTITY].check_id_number(
        claims.actor, legal_name=body["legal_name"], id_number=body["id_number"]
    )
    return web.json_response(result)


async def my_code_send(request: web.Request) -> web.Response:
    claims = await join_claims(request)
    await _optional_body(request, EMPTY)
    return web.json_response(await request.app[IDENTITY].send_code(claims.actor))


async def my_code(request: web.Request) -> web.Response:
    claims = await join_claims(request)
    body = await read_json(request, CODE_ENTRY)
    return web.json_response(await request.app[IDENTITY].enter_code(claims.actor, body["code"]))


async def my_face_start(request: web.Request) -> web.Response:
    """Start the camera check (face match and liveness) on my published video."""
    claims = await join_claims(request)
    await _optional_body(request, EMPTY)
    return web.json_response(await request.app[IDENTITY].start_face_check(claims.actor))


async def my_help(request: web.Request) -> web.Response:
    claims = await join_claims(request)
    await _optional_body(request, EMPTY)
    return web.json_response(await request.app[IDENTITY].request_help(claims.actor))


async def my_outbox(request: web.Request) -> web.Response:
    """The outbox messages to the people registered on my hearing (those who verify identity
    read them out to someone whose phone does not get them)."""
    claims = await join_claims(request)
    store = request.app[STORE]
    hearing = await store.get_hearing(claims.hearing_id)
    authorize(claims.actor, Action.VERIFY_IDENTITY, hearing)
    settings = request.app[SETTINGS]
    if settings.message_sender != "outbox":
        raise ApiError(404, "no_outbox", f"messages are sent by {settings.message_sender}")
    regs = await store.list_registrations(hearing.id)
    contacts = {r.phone: r.participant_id for r in regs} | {
        r.email: r.participant_id for r in regs if r.email
    }
    # Files on disk: read off the event loop.
    entries = await asyncio.to_thread(read_outbox, settings.effective_outbox_dir, limit=500)
    return web.json_response(
        {
            "messages": [
                {**e.to_json(), "participant_id": contacts[e.recipient]}
                for e in entries
                if e.recipient in contacts
            ][:50]
        }
    )
