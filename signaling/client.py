"""A Python participant: socket.io signaling plus aiortc peers (publish and subscribe).

Tests, benchmarks and bots use it::

    client = HearingClient("http://127.0.0.1:8080", token)
    await client.connect()
    info = await client.join()
    await client.publish([video_track, audio_track])
    track = await client.wait_for_track(other_participant_id, "video")
    ...
    await client.close()

Received tracks are keyed by (publisher participant id, kind). The server labels each
forwarded track with its publisher: the stream id (msid) of a subscribed track is the
publisher's participant id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import socketio
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)

from .protocol import NAMESPACE, PROTOCOL_VERSION

log = logging.getLogger(__name__)


class SignalingError(Exception):
    """The server refused a request; ``code`` is the protocol's error code, ``retry_after``
    the seconds it asked the client to wait before trying again (``unavailable``,
    ``rate_limited``), if it said."""

    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass
class ReceivedTrack:
    """A track received through the server, with its publisher."""

    publisher_id: str
    kind: str
    track: MediaStreamTrack


@dataclass
class _Events:
    """Every server push, kept in arrival order, with a condition to wait on."""

    items: list[tuple[str, Any]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)


def _ice_servers(entries: list[dict[str, Any]]) -> list[RTCIceServer]:
    return [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in entries
    ]


_MAX_MOVES = 3  # a hearing's node changes rarely; more moves in a row is a loop


class HearingClient:
    """One participant's connection to a hearing."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        video_codec: str | None = None,
        request_timeout: float = 10.0,
        relay_only: bool = False,
    ) -> None:
        """``relay_only``: gather only TURN relay candidates (``iceTransportPolicy:
        "relay"``), as a client behind a network that lets nothing else through."""
        self._base_url = base_url
        self._relay_only = relay_only
        self._token = token
        self._video_codec = video_codec  # e.g. "video/H264" to force a codec
        self._timeout = request_timeout
        self._sio = socketio.AsyncClient(reconnection=False)
        self._events = _Events()
        self._ice_servers: list[RTCIceServer] = []
        self.publish_pc: RTCPeerConnection | None = None
        self.subscribe_pc: RTCPeerConnection | None = None
        self.received: dict[tuple[str, str], ReceivedTrack] = {}
        self._track_arrived = asyncio.Condition()
        self._offer_lock = asyncio.Lock()
        self.join_info: dict[str, Any] = {}
        self._closing = False
        # Every push is recorded (catch-all); the subscriber offer is also acted on.
        self._sio.on("*", self._record, namespace=NAMESPACE)
        self._sio.on("subscriber_offer", self._on_subscriber_offer, namespace=NAMESPACE)
        self._connect_error: Any = None
        self._sio.on("connect_error", self._on_connect_error, namespace=NAMESPACE)

    # -- signaling --------------------------------------------------------------------------

    async def _record(self, name: str, data: Any = None) -> None:
        async with self._events.changed:
            self._events.items.append((name, data))
            self._events.changed.notify_all()

    @property
    def connected(self) -> bool:
        """Whether the socket.io connection to the hearing is up."""
        return bool(self._sio.connected)

    @property
    def events(self) -> list[tuple[str, Any]]:
        """Every server push received so far, as (event, payload)."""
        return list(self._events.items)

    async def wait_for_event(
        self, name: str, predicate: Any = None, *, timeout: float = 10.0, start: int = 0
    ) -> Any:
        """Wait for a push named ``name`` (whose payload satisfies ``predicate``)."""

        def find() -> Any:
            for ev, data in self._events.items[start:]:
                if ev == name and (predicate is None or predicate(data)):
                    return (data,)
            return None

        async with asyncio.timeout(timeout), self._events.changed:
            while (hit := find()) is None:
                await self._events.changed.wait()
        return hit[0]

    async def _on_connect_error(self, data: Any = None) -> None:
        self._connect_error = data

    async def connect(self) -> None:
        """Open the socket.io connection, authenticating with the join token.

        Raises :class:`SignalingError` with the server's code when the server refuses.
        A server that says another node serves the hearing (``moved``) is followed there
        (``base_url`` then names that node).
        """
        for _ in range(_MAX_MOVES + 1):
            self._connect_error = None
            if self._sio.eio.state != "disconnected":
                # The server ended the namespace (a kick, a hearing moved): the engine.io
                # connection under it stays open and must be closed before a new connect.
                with contextlib.suppress(Exception):
                    await self._sio.disconnect()
            try:
                await self._sio.connect(
                    self._base_url,
                    namespaces=[NAMESPACE],
                    auth={"token": self._token},
                    transports=["websocket"],
                    wait_timeout=self._timeout,
                )
                return
            except socketio.exceptions.ConnectionError as exc:
                refused = self._connect_error
                detail = refused.get("data") if isinstance(refused, dict) else None
                if not (isinstance(detail, dict) and "code" in detail):
                    raise SignalingError("connect_failed", str(refused or exc)) from exc
                if detail["code"] == "moved" and isinstance(detail.get("url"), str):
                    self._base_url = detail["url"]
                    continue
                wait = detail.get("retry_after")
                raise SignalingError(
                    detail["code"],
                    str(detail.get("message")),
                    float(wait) if isinstance(wait, int | float) else None,
                ) from exc
        raise SignalingError("moved", f"sent on more than {_MAX_MOVES} times")

    @property
    def base_url(self) -> str:
        """The server this client talks to (the hearing's node, once it was sent there)."""
        return self._base_url

    async def call(self, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send an event and return the server's ack; raise SignalingError when refused."""
        reply = await self._sio.call(event, data or {}, namespace=NAMESPACE, timeout=self._timeout)
        if not isinstance(reply, dict) or not reply.get("ok"):
            code = reply.get("code", "error") if isinstance(reply, dict) else "error"
            message = reply.get("message", str(reply)) if isinstance(reply, dict) else str(reply)
            raise SignalingError(code, message)
        return reply

    async def join(self) -> dict[str, Any]:
        self.join_info = await self.call("join", {"protocol": PROTOCOL_VERSION})
        self._ice_servers = _ice_servers(self.join_info.get("ice_servers", []))
        return self.join_info

    def _config(self) -> RTCConfiguration:
        # Explicit list, even when empty: aiortc falls back to a public STUN server otherwise.
        # max-bundle: under aiortc's default policy a second audio section's packets can land
        # on the first audio receiver once BUNDLE drops its transport.
        return RTCConfiguration(
            iceServers=list(self._ice_servers),
            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
            iceTransportPolicy=(
                RTCIceTransportPolicy.RELAY if self._relay_only else RTCIceTransportPolicy.ALL
            ),
        )

    # -- media ------------------------------------------------------------------------------

    async def publish(self, tracks: Sequence[MediaStreamTrack]) -> RTCPeerConnection:
        """Send ``tracks`` to the server on the publish connection."""
        pc = RTCPeerConnection(self._config())
        self.publish_pc = pc
        for track in tracks:
            transceiver = pc.addTransceiver(track, direction="sendonly")
            if track.kind == "video" and self._video_codec:
                caps = RTCRtpSender.getCapabilities("video")
                prefs = [c for c in caps.codecs if c.mimeType == self._video_codec]
                if not prefs:
                    raise ValueError(f"codec {self._video_codec} not available")
                transceiver.setCodecPreferences(prefs)
        await pc.setLocalDescription(await pc.createOffer())
        reply = await self.call("publish_offer", {"type": "offer", "sdp": pc.localDescription.sdp})
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        return pc

    async def _on_subscriber_offer(self, data: Any) -> None:
        if self._closing:
            return
        try:
            async with self._offer_lock:
                if data.get("restart") and self.subscribe_pc is not None:
                    # The server replaced our subscribe connection: start a new one.
                    await self.subscribe_pc.close()
                    self.subscribe_pc = None
                if "ice_servers" in data:
                    # the join's TURN credentials may have expired by now
                    self._ice_servers = _ice_servers(data["ice_servers"])
                if self.subscribe_pc is None:
                    self.subscribe_pc = RTCPeerConnection(self._config())
                    self.subscribe_pc.on("track", self._on_track)
                pc = self.subscribe_pc
                await pc.setRemoteDescription(RTCSessionDescription(sdp=data["sdp"], type="offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                await self._index_tracks()
                await self.call(
                    "subscribe_answer",
                    {
                        "type": "answer",
                        "sdp": pc.localDescription.sdp,
                        "revision": data["revision"],
                    },
                )
        except Exception:
            if self._closing:
                # close() ran while this answer was on its way: nothing is wrong.
                log.debug("subscriber offer abandoned: the client is closing")
                return
            log.exception("handling the subscriber offer failed")

    async def _on_track(self, track: MediaStreamTrack) -> None:
        await self._index_tracks()

    async def _index_tracks(self) -> None:
        """Map the subscribe connection's receiving transceivers to their publishers."""
        pc = self.subscribe_pc
        if pc is None:
            return
        current: dict[tuple[str, str], ReceivedTrack] = {}
        for t in pc.getTransceivers():
            track = t.receiver.track
            publisher = _stream_id(pc, t.mid)
            if track is None or publisher is None or t.currentDirection == "inactive":
                continue
            current[(publisher, track.kind)] = ReceivedTrack(publisher, track.kind, track)
        self.received = current
        async with self._track_arrived:
            self._track_arrived.notify_all()

    async def wait_for_track(
        self, publisher_id: str, kind: str, *, timeout: float = 10.0
    ) -> MediaStreamTrack:
        """Wait until a track of ``kind`` from ``publisher_id`` is being received."""
        async with asyncio.timeout(timeout), self._track_arrived:
            while (publisher_id, kind) not in self.received:
                await self._track_arrived.wait()
        return self.received[(publisher_id, kind)].track

    async def close(self) -> None:
        """Disconnect, then close both peer connections."""
        self._closing = True
        with contextlib.suppress(Exception):
            # Also when the server already ended the namespace (e.g. the hearing closed):
            # the engine.io connection under it stays open until its 45 s ping timeout.
            await self._sio.disconnect()
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()


def _stream_id(pc: RTCPeerConnection, mid: str | None) -> str | None:
    """The msid stream id that the remote description gives media section ``mid``."""
    desc = pc.remoteDescription
    if desc is None or mid is None:
        return None
    for section in desc.sdp.split("\nm=")[1:]:
        lines = [line.strip() for line in section.splitlines()]
        if f"a=mid:{mid}" in lines:
            for line in lines:
                if line.startswith("a=msid:"):
                    return line[7:].split()[0]
    return None
