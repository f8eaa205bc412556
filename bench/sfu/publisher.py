"""The publisher process: the judge joins, starts the hearing and publishes the camera
through the SFU; the same camera also answers the direct call.

``python -m bench.sfu.publisher --url URL --token TOKEN --direct-port PORT``.
Events: ``ready``; ``mark`` (per command) with frames and bytes sent so far; ``result``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection

from signaling.client import HearingClient

from .bitrate import pin_vp8_bitrate
from .control import commands, die_with_parent, emit, next_command
from .loopback import use_loopback_only
from .p2p import VP8, serve_direct_calls
from .rtpstats import outbound_video
from .source import Camera


async def _snapshot(
    camera: Camera, sfu_pc: RTCPeerConnection | None, direct: list[RTCPeerConnection]
) -> dict[str, Any]:
    sfu_packets, sfu_bytes = await outbound_video(sfu_pc)
    direct_packets = direct_bytes = 0
    for pc in direct:
        p, b = await outbound_video(pc)
        direct_packets += p
        direct_bytes += b
    return {
        "t": time.monotonic(),
        "produced": camera.produced,
        "sent_frames": {t.name: t.delivered for t in camera.tracks},
        "dropped_frames": {t.name: t.dropped for t in camera.tracks},
        "sfu_packets": sfu_packets,
        "sfu_bytes": sfu_bytes,
        "direct_packets": direct_packets,
        "direct_bytes": direct_bytes,
    }


def record_keyframe_requests(pc: RTCPeerConnection, times: list[float]) -> None:
    """Note the wall-clock time of every keyframe request (PLI/FIR) the SFU sends us."""
    for sender in pc.getSenders():
        request = sender._send_keyframe  # aiortc: RTCRtpSender calls this on PLI/FIR

        def recorded(request: Callable[[], None] = request) -> None:
            times.append(time.time())
            request()

        setattr(sender, "_send_keyframe", recorded)  # noqa: B010 (an instance override)


async def run(url: str, token: str, direct_port: int) -> None:
    camera = Camera()
    sfu_track = camera.track("sfu")
    direct_track = camera.track("direct")
    direct_peers: list[RTCPeerConnection] = []
    keyframe_requests: list[float] = []  # wall-clock times
    client = HearingClient(url, token, video_codec=VP8)
    reader = await commands()
    camera.start()
    try:
        await client.connect()
        info = await client.join()
        if info["hearing"]["state"] != "in_session":
            await client.call("hearing_action", {"action": "start"})
        record_keyframe_requests(await client.publish([sfu_track]), keyframe_requests)
        async with serve_direct_calls(direct_track, direct_port, direct_peers):
            emit("ready", participant_id=info["me"]["id"])
            while True:
                cmd = await next_command(reader)
                if cmd["cmd"] == "mark":
                    snap = await _snapshot(camera, client.publish_pc, direct_peers)
                    snap["keyframe_requests"] = len(keyframe_requests)
                    emit("mark", label=cmd["label"], **snap)
                elif cmd["cmd"] == "stop":
                    break
    finally:
        await camera.stop()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await client.close()
                for pc in direct_peers:
                    await pc.close()
    emit("result", keyframe_requests=keyframe_requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--direct-port", type=int, required=True)
    parser.add_argument("--bitrate", type=int, default=1_000_000)
    args = parser.parse_args()
    die_with_parent()
    logging.basicConfig(level=logging.WARNING)
    use_loopback_only()
    pin_vp8_bitrate(args.bitrate)
    asyncio.run(run(args.url, args.token, args.direct_port))


if __name__ == "__main__":
    main()
