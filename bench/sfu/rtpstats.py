"""RTP counters read from aiortc's getStats()."""

from __future__ import annotations

from aiortc import RTCPeerConnection
from aiortc.stats import RTCInboundRtpStreamStats, RTCOutboundRtpStreamStats


async def inbound_video_packets(pc: RTCPeerConnection | None) -> int:
    """Video RTP packets received on ``pc`` so far (all its receivers)."""
    if pc is None:
        return 0
    report = await pc.getStats()
    return sum(
        s.packetsReceived
        for s in report.values()
        if isinstance(s, RTCInboundRtpStreamStats) and s.kind == "video"
    )


async def outbound_video(pc: RTCPeerConnection | None) -> tuple[int, int]:
    """(packets, payload bytes) of video sent on ``pc`` so far."""
    if pc is None:
        return 0, 0
    report = await pc.getStats()
    packets = octets = 0
    for s in report.values():
        if isinstance(s, RTCOutboundRtpStreamStats) and s.kind == "video":
            packets += s.packetsSent
            octets += s.bytesSent
    return packets, octets
