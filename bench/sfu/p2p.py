"""The direct call: publisher → one receiver, no server, for the latency baseline.

The publisher side answers offers on ``POST /offer`` (a loopback HTTP endpoint in the
publisher process); the receiver side offers a recvonly VP8 section. Both use an
explicit empty ICE server list (aiortc would otherwise add a public STUN server).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpReceiver,
    RTCSessionDescription,
)

VP8 = "video/VP8"


def isolated_configuration() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[])


def _vp8_only() -> list[RTCRtpCodecCapability]:
    capabilities = RTCRtpReceiver.getCapabilities("video")
    codecs = capabilities.codecs if capabilities is not None else []
    return [c for c in codecs if c.mimeType == VP8]


@asynccontextmanager
async def serve_direct_calls(
    track: MediaStreamTrack, port: int, peers: list[RTCPeerConnection]
) -> AsyncIterator[None]:
    """Answer one direct call at a time on 127.0.0.1:``port`` with ``track``."""

    async def offer(request: web.Request) -> web.Response:
        body = await request.json()
        pc = RTCPeerConnection(isolated_configuration())
        peers.append(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="offer"))
        pc.addTrack(track)
        await pc.setLocalDescription(await pc.createAnswer())
        return web.json_response({"sdp": pc.localDescription.sdp, "type": "answer"})

    app = web.Application()
    app.router.add_post("/offer", offer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield
    finally:
        await runner.cleanup()


async def call_directly(url: str) -> RTCPeerConnection:
    """Offer to receive VP8 video from ``url``; returns the connected-to-be peer."""
    pc = RTCPeerConnection(isolated_configuration())
    transceiver = pc.addTransceiver("video", direction="recvonly")
    transceiver.setCodecPreferences(_vp8_only())
    await pc.setLocalDescription(await pc.createOffer())
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"sdp": pc.localDescription.sdp, "type": "offer"}) as resp,
    ):
        resp.raise_for_status()
        answer = await resp.json()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    return pc
