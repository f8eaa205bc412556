"""socket.io signaling: the /hearing namespace on the app, subscribed to the service bus."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from hearing_server import keys
from hearing_server.auth.limits import RateLimiter, environ_address
from hearing_server.auth.turn import TurnCredentials, load_turn_secret
from hearing_server.config import Settings
from hearing_server.media.errors import MediaError
from hearing_server.signaling.connections import ConnectionsPerAddress
from hearing_server.signaling.namespace import HearingNamespace
from hearing_server.signaling.origins import origin_check
from hearing_server.signaling.server import SignalingServer
from signaling.protocol import MAX_SDP

# A client whose node stopped answering goes back to the entry once the dead node's record
# and leases have surely expired: both at most one lease after the node's last renewal, which
# came before it died; a second more for the clocks of the client and Redis.
FAILOVER_MARGIN_S = 1.0
# At shutdown: how long connected clients get to be told the server is going.
CLOSE_FLUSH_S = 1.0


def install_signaling(app: web.Application) -> None:
    """Attach socket.io and the hearing namespace.

    Its client manager is the in-process one, also with several nodes: every client of a
    hearing is connected to the node that serves it (``cluster``), so what is emitted about
    a hearing is emitted where its clients are. (python-socketio's Redis manager sent every
    emit through Redis, 0.2-0.4 s each here, and subscriber offers overtook their answers.)
    """
    settings = app[keys.SETTINGS]
    sio = SignalingServer(
        async_mode="aiohttp",
        max_http_buffer_size=2 * MAX_SDP,
        cors_allowed_origins=origin_check(settings.effective_public_url),
    )
    namespace = HearingNamespace(
        tokens=app[keys.TOKENS],
        hearings=app[keys.HEARINGS],
        live=app[keys.LIVE],
        media=app[keys.MEDIA],
        media_errors=(MediaError,),
        ice_servers=client_ice_servers(settings),
        recording=app[keys.RECORDINGS],
        livestream=app[keys.LIVESTREAMS],
        identity=app[keys.IDENTITY],
        rooms=app[keys.PRIVATE_ROOMS],
        notices=app[keys.NOTICES],
        board=app[keys.BOARD],
        presenting=app[keys.PRESENTING],
        placement=app[keys.PLACEMENT],
        failover={
            "entry_url": settings.effective_public_url,
            "after_seconds": settings.hearing_lease_seconds + FAILOVER_MARGIN_S,
        }
        if settings.redis_url
        else None,
        connections=ConnectionsPerAddress(
            settings.max_connections_per_address,
            lambda environ: environ_address(environ, app[keys.TRUSTED_PROXIES]),
            # connects refused for their token: at the login routes' rate per address, in a
            # bucket of their own (an address busy with identity steps can still connect)
            failures=RateLimiter(
                settings.login_requests_per_minute / 60.0, burst=settings.login_requests_per_minute
            ),
        ),
    )
    sio.register_namespace(namespace)
    app[keys.EVENTS].subscribe(namespace.on_service_event)
    sio.attach(app)

    async def end_signaling(_: web.Application) -> None:
        # Open socket.io websockets would hold the shutdown until the clients' ping timeout
        # (45 s); clients reconnect to the next server on their own. Each is told it is
        # closed, briefly: a socket whose client already went (its websocket closed, its
        # engine.io session not yet reaped) never drains its queue, and engine.io's own
        # disconnect-all would wait for it for good.
        sockets = list(sio.eio.sockets.values())
        if sockets:
            closing = [
                asyncio.ensure_future(s.close(reason=sio.eio.reason.SERVER_DISCONNECT))
                for s in sockets
            ]
            _told, stuck = await asyncio.wait(closing, timeout=CLOSE_FLUSH_S)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
            sio.eio.sockets = {}
        await sio.shutdown()

    app.on_shutdown.append(end_signaling)


def client_ice_servers(settings: Settings) -> Callable[[str], list[dict[str, Any]]]:
    """What a participant's ``RTCConfiguration.iceServers`` gets: the static ``ice_servers``
    and, when ``turn_urls`` are set, the TURN server with credentials issued for them now."""
    static = [s.to_json() for s in settings.ice_servers]
    if not settings.turn_urls:
        return lambda _pid: [dict(s) for s in static]
    secret = settings.turn_secret or load_turn_secret(settings.effective_turn_secret_path)
    turn = TurnCredentials(settings.turn_urls, secret, settings.turn_credential_ttl_seconds)
    return lambda pid: [*(dict(s) for s in static), turn.ice_server(pid)]
