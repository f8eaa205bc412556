"""A request about a hearing another node serves is answered by that node.

The hearing's live state (its connected people, recording, composite, livestream) and the
pushes to its clients are on the node that serves it. A staff request that a load balancer
sends to another node (pausing the hearing, adding a participant, serving a notice) would
change the store there and reach none of that: the clients would not hear of it and the
recording would not pause. So the request is relayed to the serving node, body and answer
streamed through, the way a client's socket is sent there with ``moved``.

Relayed requests carry ``FORWARDED_BY``; a node never relays one again. When the serving
node cannot be reached (it died and its lease has not run out), the request is answered
here, from the store, as when nobody serves the hearing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web

from cluster import NodeInfo
from hearing_server.auth.tokens import TokenError
from hearing_server.core.errors import NotFound
from hearing_server.keys import FORWARDING, HEARINGS, PLACEMENT, SETTINGS, TOKENS
from hearing_server.logs import REQUEST_ID_HEADER, REQUEST_ID_KEY

from .errors import error_response

log = logging.getLogger(__name__)

FORWARDED_BY = "X-Hearing-Forwarded-By"
_CHUNK = 64 * 1024
# Per RFC 9110 7.6.1, and what the relay itself sets.
_HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Host",
        "Content-Length",
    )
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _hearing_of(request: web.Request) -> str | None:
    """The hearing the request is about, when the route names one (directly, through a
    participant, or through the caller's join token)."""
    info = request.match_info
    if "hearing_id" in info:
        return info["hearing_id"]
    if "participant_id" in info:
        try:
            return (
                await request.app[HEARINGS].store.get_participant(info["participant_id"])
            ).hearing_id
        except NotFound:
            return None
    if request.path == "/api/me" or request.path.startswith("/api/me/"):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        tokens = request.app[TOKENS]
        if scheme.lower() != "bearer" or not token.strip() or tokens.is_staff_token(token):
            return None
        try:
            return (await tokens.verify_join(token.strip())).hearing_id
        except TokenError:
            return None  # answered here: the handler refuses it
    return None


def _headers_out(request: web.Request, this_node: str) -> list[tuple[str, str]]:
    skip = _HOP_BY_HOP | {"x-forwarded-for", REQUEST_ID_HEADER.lower()}
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in skip]
    # the same id on both nodes' log lines (the caller's, or the one made here)
    request_id = request.get(REQUEST_ID_KEY)
    if request_id is not None:
        headers.append((REQUEST_ID_HEADER, request_id))
    peer = request.remote or ""
    prior = request.headers.get("X-Forwarded-For")
    if peer:
        headers.append(("X-Forwarded-For", f"{prior}, {peer}" if prior else peer))
    elif prior:
        headers.append(("X-Forwarded-For", prior))
    headers.append((FORWARDED_BY, this_node))
    return headers


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(_CHUNK):
        yield chunk


async def _relay(
    request: web.Request, holder: NodeInfo, session: aiohttp.ClientSession, this_node: str
) -> web.StreamResponse | None:
    """The holder's answer, streamed; None when the holder cannot be reached at all."""
    url = holder.url.rstrip("/") + request.rel_url.path_qs
    data = _body(request) if request.can_read_body else None
    try:
        async with session.request(
            request.method,
            url,
            headers=_headers_out(request, this_node),
            data=data,
            allow_redirects=False,
        ) as upstream:
            answer = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP_BY_HOP:
                    answer.headers.add(key, value)
            if upstream.content_length is not None:
                answer.content_length = upstream.content_length
            await answer.prepare(request)
            async for chunk in upstream.content.iter_chunked(_CHUNK):
                await answer.write(chunk)
            await answer.write_eof()
            return answer
    except aiohttp.ClientConnectorError as exc:
        log.warning("node %s (%s) is unreachable: %s; answered here", holder.id, holder.url, exc)
        return None
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning(
            "relaying %s %s to node %s failed: %s", request.method, request.path, holder.id, exc
        )
        return error_response(
            502, "node_unreachable", "the server of this hearing did not answer; try again"
        )


@web.middleware
async def forwarding_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Relay API requests about a hearing served by another node to that node."""
    if (
        not request.app[SETTINGS].redis_url  # one node serves every hearing
        or not request.path.startswith("/api/")
        or FORWARDED_BY in request.headers
    ):
        return await handler(request)
    placement = request.app[PLACEMENT]
    hearing_id = await _hearing_of(request)
    if hearing_id is None or placement.serves(hearing_id):
        return await handler(request)
    try:
        holder = await placement.holder(hearing_id)
    except Exception as exc:  # Redis away: the store still answers
        log.warning("who serves hearing %s is unknown (%s); answered here", hearing_id, exc)
        holder = None
    if holder is None or holder.id == placement.node.id:
        return await handler(request)
    relay = request.app[FORWARDING].session()
    answer = await _relay(request, holder, relay, placement.node.id)
    return answer if answer is not None else await handler(request)
