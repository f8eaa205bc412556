"""Every HTTP request's id: taken from ``X-Request-Id`` or made, put on every log line
written while it is handled (``hearing_server.logs``), and answered in ``X-Request-Id``."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from hearing_server.logs import REQUEST_ID_HEADER, REQUEST_ID_KEY, request_context, request_id_from


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The outermost middleware: the id covers the whole handling, errors included."""
    request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    request[REQUEST_ID_KEY] = request_id
    with request_context(request_id):
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers[REQUEST_ID_HEADER] = request_id
            raise
    if not response.prepared:  # a websocket or a stream already sent its headers
        response.headers[REQUEST_ID_HEADER] = request_id
    return response
