"""The judge, on a clean line, watching the party on the weak one: every audio and video
frame of the party's that the judge's client decodes, with its arrival time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from signaling.client import HearingClient


@dataclass
class Frames:
    """Arrival (monotonic s) and media time (s) of each decoded frame of one track, and
    (video) the arrival of each keyframe's first packet. The server forwards only whole
    video frames, in order: after a loss that no resend repaired it waits for a keyframe,
    so every picture decoded here is a whole one."""

    arrived: list[float] = field(default_factory=list)
    media_s: list[float] = field(default_factory=list)
    keyframes: list[float] = field(default_factory=list)

    def between(self, start: float, end: float) -> Iterator[tuple[float, float]]:
        for t, m in zip(self.arrived, self.media_s, strict=True):
            if start <= t < end:
                yield t, m

    def count(self, start: float, end: float) -> int:
        return sum(1 for _ in self.between(start, end))

    def first_after(self, t: float) -> float | None:
        return next((a for a in self.arrived if a >= t), None)

    def keyframe_after(self, t: float) -> float | None:
        return next((a for a in self.keyframes if a >= t), None)


class Observer:
    """The judge's client and the party's frames as it received them."""

    def __init__(self, url: str, token: str) -> None:
        self.client = HearingClient(url, token, request_timeout=20.0)
        self.frames = {"audio": Frames(), "video": Frames()}
        self._tasks: list[asyncio.Task[None]] = []

    async def join(self) -> None:
        """Join and put the hearing in session (the party then joins straight into it)."""
        await self.client.connect()
        info = await self.client.join()
        if info["hearing"]["state"] != "in_session":
            await self.client.call("hearing_action", {"action": "start"})

    async def watch(self, party_id: str, *, timeout: float = 30.0) -> None:
        """Decode ``party_id``'s audio and video as they arrive."""
        for kind in ("audio", "video"):
            track = await self.client.wait_for_track(party_id, kind, timeout=timeout)
            if kind == "video":
                self._note_keyframes(track)
            self._tasks.append(asyncio.create_task(self._watch(track, self.frames[kind])))

    def _note_keyframes(self, track: MediaStreamTrack) -> None:
        pc = self.client.subscribe_pc
        assert pc is not None
        receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
        handle = receiver._handle_rtp_packet
        keyframes = self.frames["video"].keyframes

        async def noting(packet: RtpPacket, arrival_time_ms: int) -> None:
            if _starts_vp8_keyframe(packet.payload):
                keyframes.append(time.monotonic())
            await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = noting  # type: ignore[method-assign]

    async def _watch(self, track: MediaStreamTrack, frames: Frames) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame: Any = await track.recv()
                frames.arrived.append(time.monotonic())
                frames.media_s.append(float(frame.pts * frame.time_base))

    def drops_of(self, party_id: str) -> list[dict[str, Any]]:
        """Every moment the server told the judge the party was not connected."""
        return [
            data
            for name, data in self.client.events
            if name == "participant_updated"
            and isinstance(data, dict)
            and data.get("id") == party_id
            and data.get("connected") is False
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.client.close()


def _starts_vp8_keyframe(payload: bytes) -> bool:
    """The first packet of a VP8 keyframe: the start of partition 0, whose frame tag's
    lowest bit is 0 (RFC 7741 section 4.3)."""
    try:
        descriptor, rest = VpxPayloadDescriptor.parse(payload)
    except ValueError:
        return False
    return (
        bool(descriptor.partition_start)
        and descriptor.partition_id == 0
        and bool(rest)
        and not rest[0] & 1
    )
