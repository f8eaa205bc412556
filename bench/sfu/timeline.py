"""Timestamps of a receiver's join steps, for explaining join-to-first-frame.

``Timeline.step(label)`` notes the milliseconds since the join started, once per label.
``watch_connection`` and ``watch_first_packet`` add the moments the peer connection
connected (ICE + DTLS) and the first RTP packet arrived. The latter wraps the
receiver's ``_handle_rtp_packet`` (an aiortc internal, per instance; diagnostics only).
"""

from __future__ import annotations

import time
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpReceiver

_HANDLE = "_handle_rtp_packet"


class Timeline:
    def __init__(self, started: float) -> None:
        self.started = started  # time.monotonic()
        self.steps_ms: dict[str, float] = {}

    def step(self, label: str) -> None:
        if label not in self.steps_ms:
            self.steps_ms[label] = round((time.monotonic() - self.started) * 1000, 1)


def watch_connection(pc: RTCPeerConnection, timeline: Timeline) -> None:
    """Note when ``pc`` reaches connectionState "connected"."""
    if pc.connectionState == "connected":
        timeline.step("pc_connected")
        return

    @pc.on("connectionstatechange")
    def changed() -> None:
        if pc.connectionState == "connected":
            timeline.step("pc_connected")


def watch_first_packet(receiver: RTCRtpReceiver, timeline: Timeline) -> None:
    """Note when the first RTP packet reaches ``receiver``."""
    handle = receiver._handle_rtp_packet

    async def first(packet: Any, arrival_time_ms: int) -> None:
        timeline.step("first_rtp")
        setattr(receiver, _HANDLE, handle)  # back to the original after one packet
        await handle(packet, arrival_time_ms)

    setattr(receiver, _HANDLE, first)
