"""HTTP handlers of the mediation agreement: the mediator drafts and seals, each party reads,
accepts or asks for changes, and signs on their own device (docs/protocol.md "Agreement").

A participant acts with their join token on their own hearing's agreement; staff read any
hearing's agreement and its PDF.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aiohttp import web

from hearing_server.core.actors import Actor
from hearing_server.keys import AGREEMENTS
from hearing_server.schema import Field, Schema
from hearing_server.service.agreements import MAX_SIGNATURE_PNG

from .auth import join_claims, staff_actor
from .errors import ApiError
from .schemas import read_json
from .transcripts import attachment

ACCEPT = Schema(
    "AgreementAccept",
    (Field("content_hash", "string", max_length=64, description="the version I read"),),
)
CHANGES = Schema("AgreementChanges", (Field("comment", "string", max_length=2000, multiline=True),))
NO_AGREEMENT = Schema(
    "AgreementNotReached", (Field("reason", "string", max_length=1000, multiline=True),)
)
SIGN = Schema(
    "AgreementSign",
    (
        Field("code", "string", max_length=16, description="the code sent to my phone"),
        Field(
            "signature_png",
            "string",
            max_length=MAX_SIGNATURE_PNG * 4 // 3 + 64,
            description="my drawn signature: a PNG, base64 or a data: URL",
        ),
    ),
)
EMPTY = Schema("Empty", ())

# The drafted agreement is a nested document (lists of terms, a payment object): validated by
# the domain (AgreementContent.from_json), not by a flat schema.
MAX_DRAFT_BYTES = 512 * 1024
# A drawn signature is larger than the app's default body limit allows.
MAX_SIGN_BYTES = MAX_SIGNATURE_PNG * 4 // 3 + 4096


async def _read_limited(request: web.Request, limit: int) -> Any:
    """A JSON body of at most ``limit`` bytes (routes whose bodies outgrow the default)."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send application/json")
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "payload_too_large", f"the body is limited to {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"the body is limited to {limit} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"malformed JSON: {exc}") from exc


async def _participant(request: web.Request) -> tuple[Actor, str]:
    claims = await join_claims(request)
    return claims.actor, claims.hearing_id


def _png(text: str) -> bytes:
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if header != "data:image/png;base64":
            raise ApiError(422, "signature_invalid", "the drawn signature must be a PNG image")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(422, "signature_invalid", "signature_png is not base64") from exc


# -- the participant (join token) -----------------------------------------------------------------


async def my_agreement(request: web.Request) -> web.Response:
    actor, hid = await _participant(request)
    return web.json_response(await request.app[AGREEMENTS].view(actor, hid))


async def my_draft(request: web.Request) -> web.Response:
    actor, hid = await _participant(request)
    body = await _read_limited(request, MAX_DRAFT_BYTES)
    return web.json_response(await request.app[AGREEMENTS].save_draft(actor, hid, body))


async def _empty(request: web.Request) -> None:
    if request.can_read_body:
        await read_json(request, EMPTY)


async def my_propose(request: web.Request) -> web.Response:
    actor, hid = await _participant(request)
    await _empty(request)
    return web.json_response(await request.app[AGREEMENTS].propose(actor, hid))


async def my_back_to_draft(request: web.Request) -> web.Response:
    actor, hid = await _participant(request)
    await _empty(request)
    return web.json_response(await request.app[AGREEMENTS].back_to_draft(actor, hid))


async def my_open_signing(request: web.Request) -> web.Response:
    actor, hid = await _participant(request)
    await _empty(request)
    return web.json_response(await request.app[AGREEMENTS].open_signing(actor, hid))


async def my_seal(request: web.Request) -> web.Response:
    actor, hid = await _participant(request)
    await _empty(request)
    return web.json_response(await request.app[AGREEMENTS].seal(actor, hid))


async def my_confirmation(request: web.Request) -> web.Response:
    actor, hid = await _participant(request)
    await _empty(request)
    return web.json_response(await request.app[AGREEMENTS].request_confirmation(actor, hid))


async def my_no_agreement(request: web.Request) -> web.Response:
    actor, hid = await _participant(request)
    body = await read_json(request, NO_AGREEMENT)
    return web.json_response(await request.app[AGREEMENTS].no_agreement(actor, hid, body["reason"]))


async def my_accept(request: web.Request) -> web.Response:
    actor, hid = await _participant(request)
    body = await read_json(request, ACCEPT)
    return web.json_response(await request.app[AGREEMENTS].accept(actor, hid, body["content_hash"]))


async def my_request_changes(request: web.Request) -> web.Response:
    actor, hid = await _participant(request)
    body = await read_json(request, CHANGES)
    return web.json_response(
        await request.app[AGREEMENTS].request_changes(actor, hid, body["comment"])
    )


async def my_sign_code(request: web.Request) -> web.Response:
    actor, hid = await _participant(request)
    await _empty(request)
    return web.json_response(await request.app[AGREEMENTS].send_sign_code(actor, hid))


async def my_sign(request: web.Request) -> web.Response:
    actor, hid = await _participant(request)
    body = SIGN.parse(await _read_limited(request, MAX_SIGN_BYTES))
    png = _png(body["signature_png"])
    return web.json_response(await request.app[AGREEMENTS].sign(actor, hid, body["code"], png))


async def my_pdf(request: web.Request) -> web.Response:
    actor, hid = await _participant(request)
    return await _pdf(request, actor, hid)


async def my_confirmation_pdf(request: web.Request) -> web.Response:
    actor, hid = await _participant(request)
    data, agreement = await request.app[AGREEMENTS].confirmation_pdf(actor, hid)
    case = agreement.case.get("case_number", "agreement")
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={
            "Content-Disposition": attachment(f"司法确认申请书 {case}.pdf"),
            "X-Content-SHA256": agreement.confirmation_sha256 or "",
        },
    )


# -- staff ----------------------------------------------------------------------------------------


async def staff_agreement(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    hid = request.match_info["hearing_id"]
    return web.json_response(await request.app[AGREEMENTS].view(actor, hid))


async def staff_pdf(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    return await _pdf(request, actor, request.match_info["hearing_id"])


async def _pdf(request: web.Request, actor: Actor, hid: str) -> web.Response:
    data, agreement = await request.app[AGREEMENTS].pdf(actor, hid)
    case = agreement.case.get("case_number", "agreement")
    name = f"调解协议书 {case} r{agreement.pdf_revision}.pdf"
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={
            "Content-Disposition": attachment(name),
            "X-Content-SHA256": agreement.pdf_sha256 or "",
        },
    )
