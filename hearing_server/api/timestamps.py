"""The server's own RFC 3161 timestamp authority, for anyone checking or extending the
agreements' signatures (RFC 3161 section 3.4: time-stamp protocol via HTTP)."""

from __future__ import annotations

from aiohttp import web

from hearing_server.keys import TIMESTAMPS

from .errors import ApiError

MAX_REQUEST = 16 * 1024  # a TimeStampReq holds one hash and a few small fields


async def timestamp(request: web.Request) -> web.Response:
    if request.content_type != "application/timestamp-query":
        raise ApiError(415, "unsupported_media_type", "send application/timestamp-query")
    body = await request.content.read(MAX_REQUEST + 1)
    if len(body) > MAX_REQUEST:
        raise ApiError(413, "payload_too_large", f"a request is at most {MAX_REQUEST} bytes")
    # A malformed request is answered with a rejection inside a valid TimeStampResp, as the
    # RFC wants, never with an HTTP error.
    return web.Response(
        body=request.app[TIMESTAMPS].respond(body), content_type="application/timestamp-reply"
    )
