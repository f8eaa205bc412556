"""HTTP handlers of the exhibit bundle (docs/evidence.md).

A participant acts with their join token under ``/api/me/evidence``; court staff act on any
hearing under ``/api/hearings/{hearing_id}/evidence``. Uploads are resumable: announce the size,
send the bytes in any number of ``PATCH`` requests each starting at ``Upload-Offset`` (the
stored length, which ``GET`` on the upload tells after a broken connection), then complete it
with a title and purpose. Bytes stream to disk; a file is never held in memory.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from exhibits.files import UploadState
from hearing_server.core.actors import Actor
from hearing_server.core.errors import NotFound
from hearing_server.core.evidence import ExhibitSide, Verdict
from hearing_server.keys import EVIDENCE
from hearing_server.schema import Field, Schema
from hearing_server.service.evidence import TICKET_TTL_S

from .auth import join_claims, staff_actor
from .errors import ApiError
from .schemas import read_json
from .transcripts import attachment

_SIDES = tuple(s.value for s in ExhibitSide)
_VERDICTS = tuple(v.value for v in Verdict)
_CHUNK = 256 * 1024

UPLOAD_CREATE = Schema(
    "EvidenceUploadCreate",
    (
        Field("size", "integer", description="the file's size in bytes"),
        Field("filename", "string", max_length=255, description="shown, never used as a path"),
    ),
)
UPLOAD_COMPLETE = Schema(
    "EvidenceUploadComplete",
    (
        Field("title", "string", max_length=200),
        Field("purpose", "string", required=False, max_length=2000, multiline=True,
              description="what the exhibit is meant to prove (证明目的)"),
        Field("side", "enum", required=False, enum=_SIDES,
              description="court staff only: the side it is filed for"),
        Field("supersedes", "string", required=False, max_length=64,
              description="the exhibit this version corrects"),
    ),
)  # fmt: skip
OPINION = Schema(
    "EvidenceOpinion",
    (
        Field("by_side", "enum", enum=_SIDES, description="whose opinion (the other side's)"),
        Field("authenticity", "enum", required=False, nullable=True, enum=_VERDICTS),
        Field("legality", "enum", required=False, nullable=True, enum=_VERDICTS),
        Field("relevance", "enum", required=False, nullable=True, enum=_VERDICTS),
        Field("text", "string", required=False, max_length=4000, multiline=True),
    ),
)


async def _who(request: web.Request) -> tuple[Actor, str]:
    """Staff on the hearing in the path, or a participant on their own hearing."""
    if "hearing_id" in request.match_info:
        return await staff_actor(request), request.match_info["hearing_id"]
    claims = await join_claims(request)
    return claims.actor, claims.hearing_id


def _state(state: UploadState) -> dict[str, Any]:
    return {"upload_id": state.upload_id, "size": state.size, "offset": state.offset}


async def bundle(request: web.Request) -> web.Response:
    actor, hid = await _who(request)
    return web.json_response(await request.app[EVIDENCE].bundle(actor, hid))


async def begin_upload(request: web.Request) -> web.Response:
    actor, hid = await _who(request)
    body = await read_json(request, UPLOAD_CREATE)
    state = await request.app[EVIDENCE].begin_upload(
        actor, hid, size=body["size"], filename=body["filename"]
    )
    return web.json_response(_state(state), status=201)


async def _own_upload(request: web.Request) -> tuple[Actor, str]:
    actor, hid = await _who(request)
    upload_id = request.match_info["upload_id"]
    state = await request.app[EVIDENCE].upload_state(actor, upload_id)
    if state.meta.get("hearing_id") != hid:
        raise NotFound(f"no upload {upload_id}", code="upload_not_found")
    return actor, upload_id


async def upload_state(request: web.Request) -> web.Response:
    actor, upload_id = await _own_upload(request)
    state = await request.app[EVIDENCE].upload_state(actor, upload_id)
    return web.json_response(_state(state), headers={"Upload-Offset": str(state.offset)})


async def append(request: web.Request) -> web.Response:
    actor, upload_id = await _own_upload(request)
    if request.content_type not in ("application/offset+octet-stream", "application/octet-stream"):
        raise ApiError(415, "unsupported_media_type", "send application/offset+octet-stream")
    raw = request.headers.get("Upload-Offset", "")
    if not raw.isdigit():
        raise ApiError(400, "bad_offset", "send the Upload-Offset header: a byte count")

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in request.content.iter_chunked(_CHUNK):
            yield chunk

    state = await request.app[EVIDENCE].append(actor, upload_id, int(raw), chunks())
    return web.json_response(_state(state), headers={"Upload-Offset": str(state.offset)})


async def cancel_upload(request: web.Request) -> web.Response:
    actor, upload_id = await _own_upload(request)
    await request.app[EVIDENCE].cancel_upload(actor, upload_id)
    return web.Response(status=204)


async def complete_upload(request: web.Request) -> web.Response:
    actor, upload_id = await _own_upload(request)
    body = await read_json(request, UPLOAD_COMPLETE)
    exhibit = await request.app[EVIDENCE].complete(
        actor,
        upload_id,
        title=body["title"],
        purpose=body.get("purpose") or "",
        side=ExhibitSide(body["side"]) if body.get("side") else None,
        supersedes=body.get("supersedes"),
    )
    return web.json_response(exhibit.to_json(), status=201)


async def _exhibit_in_hearing(request: web.Request) -> tuple[Actor, str]:
    actor, hid = await _who(request)
    exhibit_id = request.match_info["exhibit_id"]
    exhibit = await request.app[EVIDENCE].exhibit(actor, exhibit_id)
    if exhibit.hearing_id != hid:
        raise NotFound(f"no exhibit {exhibit_id} in this hearing")
    return actor, exhibit_id


async def download(request: web.Request) -> web.StreamResponse:
    actor, exhibit_id = await _exhibit_in_hearing(request)
    exhibit, path = await request.app[EVIDENCE].file_of(actor, exhibit_id)
    digest = base64.b64encode(bytes.fromhex(exhibit.sha256)).decode()
    return web.FileResponse(
        path,
        headers={
            "Content-Type": exhibit.media_type,
            "Content-Disposition": attachment(exhibit.filename),
            # The sealed hash, to check the bytes against (RFC 9530, and plain hex).
            "Repr-Digest": f"sha-256=:{digest}:",
            "X-Content-SHA256": exhibit.sha256,
            "Cache-Control": "private, max-age=3600, immutable",
        },
    )


async def ticket(request: web.Request) -> web.Response:
    actor, exhibit_id = await _exhibit_in_hearing(request)
    value = await request.app[EVIDENCE].ticket(actor, exhibit_id, time.time())
    return web.json_response({"url": f"/api/evidence-files/{value}", "expires_in_s": TICKET_TTL_S})


async def stream(request: web.Request) -> web.StreamResponse:
    """An exhibit's file by ticket, with ranges (a player seeks without fetching it all)."""
    exhibit, path = await request.app[EVIDENCE].file_by_ticket(
        request.match_info["ticket"], time.time()
    )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": exhibit.media_type,
            "X-Content-SHA256": exhibit.sha256,
            "Cache-Control": "private, max-age=600",
        },
    )


async def page(request: web.Request) -> web.Response:
    actor, exhibit_id = await _exhibit_in_hearing(request)
    raw_page = request.match_info["page"]
    raw_width = request.query.get("width", "1200")
    if not raw_page.isdigit() or not raw_width.isdigit():
        raise ApiError(400, "bad_request", "page and width are whole numbers")
    body = await request.app[EVIDENCE].page(actor, exhibit_id, int(raw_page), int(raw_width))
    return web.Response(
        body=body,
        content_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600, immutable"},
    )


async def release(request: web.Request) -> web.Response:
    actor, exhibit_id = await _exhibit_in_hearing(request)
    exhibit = await request.app[EVIDENCE].release(actor, exhibit_id)
    return web.json_response(exhibit.to_json())


def _verdict(value: str | None) -> Verdict | None:
    return Verdict(value) if value else None


async def record_opinion(request: web.Request) -> web.Response:
    actor, exhibit_id = await _exhibit_in_hearing(request)
    body = await read_json(request, OPINION)
    opinion = await request.app[EVIDENCE].record_opinion(
        actor,
        exhibit_id,
        by_side=ExhibitSide(body["by_side"]),
        authenticity=_verdict(body.get("authenticity")),
        legality=_verdict(body.get("legality")),
        relevance=_verdict(body.get("relevance")),
        text=body.get("text") or "",
    )
    return web.json_response(opinion.to_json(), status=201)


async def verify(request: web.Request) -> web.Response:
    await staff_actor(request)
    report = await request.app[EVIDENCE].verify(request.match_info["hearing_id"])
    return web.json_response(report.to_json())
