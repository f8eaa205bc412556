"""Request body schemas of the HTTP API."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from hearing_server.core.hearing import (
    HEARING_LANGUAGES,
    HearingAction,
    HearingKind,
    Visibility,
)
from hearing_server.core.participant import PartySide, Role
from hearing_server.schema import Field, Schema

from .errors import ApiError


async def read_json(request: web.Request, schema: Schema) -> dict[str, Any]:
    """Read, decode and validate a JSON request body."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send application/json")
    raw = await request.read()  # raises 413 past client_max_size
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"malformed JSON: {exc}") from exc
    return schema.parse(data)


def _values(enum_cls: Any) -> tuple[str, ...]:
    return tuple(m.value for m in enum_cls)


HEARING_CREATE = Schema(
    "HearingCreate",
    (
        Field("kind", "enum", required=False, enum=_values(HearingKind)),
        Field("case_number", "string", max_length=64, description="e.g. (2026)京0105民初12345号"),
        Field("court", "string"),
        Field("title", "string"),
        Field("scheduled_start", "datetime"),
        Field("scheduled_end", "datetime"),
        Field("visibility", "enum", required=False, enum=_values(Visibility)),
        Field("language", "enum", required=False, nullable=True, enum=HEARING_LANGUAGES,
              description="captions and transcript: zh-CN, en or auto (detected); "
              "null: the server's transcription_language"),
    ),
)

HEARING_UPDATE = Schema(
    "HearingUpdate",
    tuple(
        Field(f.name, f.type, required=False, nullable=f.nullable, enum=f.enum,
              max_length=f.max_length)
        for f in HEARING_CREATE.fields
        if f.name != "kind"
    ),
)

TRANSITION = Schema(
    "Transition",
    (
        Field("action", "enum", enum=_values(HearingAction)),
        Field("next_sitting_id", "string", required=False, nullable=True, max_length=64),
    ),
)

PARTICIPANT_CREATE = Schema(
    "ParticipantCreate",
    (
        Field("role", "enum", enum=_values(Role)),
        Field("display_name", "string", max_length=100),
        Field("side", "enum", required=False, nullable=True, enum=_values(PartySide)),
        Field("represents", "string", required=False, nullable=True, max_length=64),
        Field("interprets_for", "string", required=False, nullable=True, max_length=64),
        Field("language", "string", required=False, nullable=True, max_length=16),
    ),
)

LINK_CREATE = Schema(
    "LinkCreate",
    (Field("ttl_hours", "integer", required=False, description="1..720, default from config"),),
)

LINK_REVOKE = Schema("LinkRevoke", (Field("token", "string", max_length=4096),))

STAFF_TOKEN_CREATE = Schema("StaffTokenCreate", (Field("name", "string", max_length=100),))

ALL_SCHEMAS = (
    HEARING_CREATE,
    HEARING_UPDATE,
    TRANSITION,
    PARTICIPANT_CREATE,
    LINK_CREATE,
    LINK_REVOKE,
    STAFF_TOKEN_CREATE,
)
