"""The public side of the livestream: no login, rate limited per client address.

- ``GET /api/public/hearings``: today's public hearings that are live or scheduled.
- ``GET /api/public/hearings/{id}``: one of them, with its livestream state and viewers.
- ``GET /live/{id}/index.m3u8``: the live playlist (``no-cache``).
- ``GET /live/{id}/{segment}.ts``: a published segment (``immutable``; ranges served).
- ``GET /watch``, ``/watch/{id}``: the list and watch pages (web_client/static/watch.html).

Only running streams of public hearings are served: a closed or sealed hearing, a withheld or
deleted segment, a name that is not a segment name: all 404, the same answer, so nothing
tells a closed hearing from one that does not exist. Segment names are matched against a
strict pattern and looked up among the published ones, never joined to a path as given.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from hearing_server import keys
from hearing_server.auth.limits import IpNetwork, RateLimiter, request_address
from hearing_server.core.errors import NotFound
from hearing_server.core.hearing import Hearing, HearingState, Visibility
from livestream import MASTER_PLAYLIST

from .errors import error_response
from .limits import RateLimited
from .pages import SECURITY_HEADERS, content_security_policy

_HEARING_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_LISTED_STATES = frozenset(
    {
        HearingState.SCHEDULED,
        HearingState.OPEN,
        HearingState.IN_SESSION,
        HearingState.PAUSED,
        HearingState.SUSPENDED,
    }
)
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Content-Length"}
PUBLIC_PREFIXES = ("/live/", "/api/public/", "/watch")


def rate_limit_middleware(
    limiter: RateLimiter, proxies: tuple[IpNetwork, ...] = ()
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The per-address limit on the public URLs (answered with CORS headers, since the
    watch page of another site may be the one asking)."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith(PUBLIC_PREFIXES):
            wait = limiter.take(request_address(request, proxies))
            if wait:
                limited = RateLimited(wait)
                return error_response(
                    limited.status,
                    limited.code,
                    limited.message,
                    {**(limited.headers or {}), **CORS},
                )
        return await handler(request)

    return middleware


def _not_found() -> web.Response:
    return web.json_response(
        {"code": "not_found", "message": "no such livestream"}, status=404, headers=CORS
    )


async def _public_hearing(request: web.Request) -> Hearing | None:
    hid = request.match_info["hearing_id"]
    if not _HEARING_ID.match(hid):
        return None
    try:
        hearing = await request.app[keys.STORE].get_hearing(hid)
    except NotFound:
        return None
    return hearing if hearing.visibility is Visibility.PUBLIC else None


def _listing(request: web.Request, h: Hearing) -> dict[str, Any]:
    streams = request.app[keys.LIVESTREAMS]
    state = streams.live_hearings().get(h.id)
    return {
        "id": h.id,
        "court": h.court,
        "case_number": h.case_number,
        "title": h.title,
        "scheduled_start": h.scheduled_start.isoformat(),
        "state": h.state.value,
        "livestream": {"live": "live", "cut": "paused"}.get(state or "", "not_live"),
        "viewers": streams.viewers(h.id),
        "replay": state is None and streams.replay_playlist(h.id) is not None,
    }


async def list_public(request: web.Request) -> web.Response:
    """Today's public hearings (court time) that are live or scheduled."""
    settings = request.app[keys.SETTINGS]
    tz = ZoneInfo(settings.court_timezone) if settings.court_timezone else None
    today = datetime.now(tz).date()
    live = request.app[keys.LIVESTREAMS].live_hearings()
    hearings = await request.app[keys.STORE].list_hearings(limit=1000)
    items = [
        _listing(request, h)
        for h in hearings
        if h.visibility is Visibility.PUBLIC
        and h.state in _LISTED_STATES
        and (h.id in live or h.scheduled_start.astimezone(tz).date() == today)
    ]
    return web.json_response({"hearings": items}, headers=CORS)


async def get_public(request: web.Request) -> web.Response:
    hearing = await _public_hearing(request)
    if hearing is None:
        return _not_found()
    return web.json_response(_listing(request, hearing), headers=CORS)


async def playlist(request: web.Request) -> web.Response:
    hearing = await _public_hearing(request)
    if hearing is None:
        return _not_found()
    text = request.app[keys.LIVESTREAMS].playlist(hearing.id, viewer=request.remote)
    if text is None:
        return _not_found()
    return _playlist_response(text)


def _playlist_response(text: str) -> web.Response:
    return web.Response(
        body=text.encode("utf-8"),  # RFC 8216: always UTF-8, so no charset parameter
        content_type="application/vnd.apple.mpegurl",
        headers={"Cache-Control": "no-cache, no-store", **CORS},
    )


async def master(request: web.Request) -> web.Response:
    """The master playlist: the stream and its captions (a WebVTT rendition)."""
    hearing = await _public_hearing(request)
    if hearing is None or request.app[keys.LIVESTREAMS].playlist(hearing.id) is None:
        return _not_found()
    return _playlist_response(MASTER_PLAYLIST)


async def captions(request: web.Request) -> web.Response:
    hearing = await _public_hearing(request)
    if hearing is None:
        return _not_found()
    text = request.app[keys.LIVESTREAMS].captions_playlist(hearing.id)
    return _not_found() if text is None else _playlist_response(text)


async def replay(request: web.Request) -> web.Response:
    """The replay (VOD) of the published parts, once stopped, if the judge allowed it."""
    hearing = await _public_hearing(request)
    if hearing is None:
        return _not_found()
    text = request.app[keys.LIVESTREAMS].replay_playlist(hearing.id)
    return _not_found() if text is None else _playlist_response(text)


async def segment(request: web.Request) -> web.StreamResponse:
    hearing = await _public_hearing(request)
    if hearing is None:
        return _not_found()
    streams = request.app[keys.LIVESTREAMS]
    name = request.match_info["name"]
    path = streams.segment_path(hearing.id, name) or streams.replay_path(hearing.id, name)
    if path is None or not path.is_file():
        return _not_found()
    # FileResponse answers Range requests (206) and conditional ones itself.
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "video/mp2t" if path.suffix == ".ts" else "text/vtt; charset=utf-8",
            "Cache-Control": "public, max-age=31536000, immutable",
            **CORS,
        },
    )


async def preflight(_: web.Request) -> web.Response:
    return web.Response(
        status=204,
        headers={
            **CORS,
            "Access-Control-Allow-Methods": "GET",
            "Access-Control-Allow-Headers": "Range",
        },
    )


def setup_livestream(app: web.Application, web_client_dir: Path) -> None:
    """Register the public routes and the per-address rate limit."""
    settings = app[keys.SETTINGS]
    rate = settings.livestream_requests_per_second
    limiter = RateLimiter(rate, burst=rate * 3)
    app.middlewares.append(rate_limit_middleware(limiter, app[keys.TRUSTED_PROXIES]))
    page = web_client_dir / "static" / "watch.html"

    async def watch_page(request: web.Request) -> web.StreamResponse:
        if not page.is_file():
            raise web.HTTPNotFound()
        # The hearing pages' hardening. hls.js needs blob: media sources and workers (which
        # the policy allows) and loads an empty "data:,WEBVTT" text track for captions.
        policy = content_security_policy(request.host).replace(
            "media-src 'self' blob: mediastream:", "media-src 'self' blob: data:"
        )
        headers = {
            **SECURITY_HEADERS,
            "Content-Security-Policy": policy,
            "Cache-Control": "no-cache",
        }
        return web.FileResponse(page, headers=headers)

    app.router.add_get("/api/public/hearings", list_public)
    app.router.add_get("/api/public/hearings/{hearing_id}", get_public)
    app.router.add_get("/live/{hearing_id}/index.m3u8", playlist)
    app.router.add_get("/live/{hearing_id}/master.m3u8", master)
    app.router.add_get("/live/{hearing_id}/captions.m3u8", captions)
    app.router.add_get("/live/{hearing_id}/replay.m3u8", replay)
    app.router.add_get("/live/{hearing_id}/{name}", segment)
    app.router.add_route("OPTIONS", "/live/{hearing_id}/{name}", preflight)
    app.router.add_get("/watch", watch_page)
    app.router.add_get("/watch/{hearing_id}", watch_page)
