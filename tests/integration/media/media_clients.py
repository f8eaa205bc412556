"""Test clients for the media layer: real aiortc peers on loopback.

Each client publishes a synthetic video track (a solid colour of its own with a small
noise box, so frames span several RTP packets) and a sine tone of its own, and decodes
everything it receives, remembering the colour and tone per received track.
"""

from __future__ import annotations

import asyncio
import logging
import re
from array import array
from dataclasses import dataclass
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

from hearing_server.media import (
    MediaEvent,
    MediaRouter,
    MediaSettings,
    SubscriberOffer,
    TrackPublished,
)
from support.media import (
    ColourVideoTrack,
    Consumed,
    ToneAudioTrack,
    mean_left_colour,
)

logger = logging.getLogger(__name__)

COLOURS: dict[str, tuple[int, int, int]] = {
    "alice": (220, 40, 40),
    "bob": (40, 200, 40),
    "carol": (40, 40, 220),
    "dave": (220, 220, 40),
}
TONES: dict[str, float] = {"alice": 440.0, "bob": 700.0, "carol": 1100.0, "dave": 1500.0}


def offer_sections(sdp: str) -> dict[str, tuple[str, str | None]]:
    """mid -> (direction, msid track id or None) for each media section of ``sdp``."""
    out: dict[str, tuple[str, str | None]] = {}
    for block in re.split(r"\r?\nm=", sdp)[1:]:
        mid = re.search(r"^a=mid:(\S+)", block, flags=re.M)
        direction = re.search(r"^a=(sendrecv|sendonly|recvonly|inactive)\r?$", block, flags=re.M)
        msid = re.search(r"^a=msid:\S+ (\S+)", block, flags=re.M)
        if mid is not None:
            out[mid.group(1)] = (
                direction.group(1) if direction else "sendrecv",
                msid.group(1) if msid else None,
            )
    return out


def client_configuration() -> RTCConfiguration:
    # max-bundle: with aiortc's default (balanced) policy, a second audio section in one
    # offer stays on a transport that BUNDLE then discards, and its packets end up on the
    # first audio receiver (an aiortc client bug; browsers are not affected).
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


@dataclass
class ReceivedTrack(Consumed):
    """What a client decoded from one received track, and which transceiver carried it."""

    track_id: str = ""
    transceiver: RTCRtpTransceiver | None = None


class MediaClient:
    """A participant: a publish peer (offers) and a subscribe peer (answers the server)."""

    def __init__(
        self,
        pid: str,
        router: MediaRouter,
        *,
        video_codec: str | None = None,
    ) -> None:
        self.pid = pid
        self.router = router
        self.colour = COLOURS[pid]
        self.tone = TONES[pid]
        self.video_codec = video_codec
        self.pub_pc: RTCPeerConnection | None = None
        self.sub_pc: RTCPeerConnection | None = None
        self.received: dict[str, ReceivedTrack] = {}
        self.offers: list[SubscriberOffer] = []
        self.errors: list[BaseException] = []
        self.publisher_keyframe_requests = 0
        self.answer_sdp: str | None = None
        # mid of the subscribe connection -> the track it carries now
        self._by_mid: dict[str, ReceivedTrack] = {}
        # mid -> every track id it carried, in order
        self.section_history: dict[str, list[str]] = {}
        # while set, answers are prepared but not sent until the event is set
        self.hold_answers: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def publish(
        self, *, audio: bool = True, video: bool = True, trickle: bool = False
    ) -> None:
        """Offer on a new publish connection. With ``trickle`` the offer goes without
        candidates, which then follow through ``add_ice_candidate``."""
        pc = RTCPeerConnection(client_configuration())
        self.pub_pc = pc
        if video:
            tr = pc.addTransceiver(ColourVideoTrack(self.colour), direction="sendonly")
            if self.video_codec is not None:
                caps = [
                    c
                    for c in RTCRtpSender.getCapabilities("video").codecs
                    if c.mimeType.lower() == f"video/{self.video_codec.lower()}"
                    and c.parameters.get("profile-level-id", "42e01f") == "42e01f"
                ]
                tr.setCodecPreferences(caps)
            self._count_keyframe_requests(tr.sender)
        if audio:
            pc.addTransceiver(ToneAudioTrack(self.tone), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription.sdp
        candidates = re.findall(r"^a=(candidate:.*?)\r?$", offer, flags=re.M)
        if trickle:
            offer = re.sub(r"^a=(candidate:.*|end-of-candidates)\r?\n", "", offer, flags=re.M)
        self.answer_sdp = await self.router.publish(self.pid, offer)
        await pc.setRemoteDescription(RTCSessionDescription(self.answer_sdp, "answer"))
        if trickle:
            for line in candidates:
                await self.router.add_ice_candidate(self.pid, "publish", line, "0", 0)
            await self.router.add_ice_candidate(self.pid, "publish", None)

    async def add_video(self) -> None:
        """Renegotiate the publish connection to add the camera."""
        pc = self.pub_pc
        assert pc is not None
        pc.addTransceiver(ColourVideoTrack(self.colour), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        answer = await self.router.publish(self.pid, pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    def _count_keyframe_requests(self, sender: RTCRtpSender) -> None:
        # test-side peek: the publisher's sender learns of PLI/FIR through _send_keyframe
        original = sender._send_keyframe

        def counting() -> None:
            self.publisher_keyframe_requests += 1
            original()

        sender._send_keyframe = counting  # type: ignore[method-assign]

    def on_event(self, event: MediaEvent) -> None:
        if isinstance(event, SubscriberOffer):
            self.offers.append(event)
            self._spawn(self._answer(event))

    async def _answer(self, offer: SubscriberOffer) -> None:
        try:
            if self.sub_pc is None or offer.restart:
                if self.sub_pc is not None:
                    await self.sub_pc.close()
                    for received in self._by_mid.values():
                        received.ended = True
                    self._by_mid = {}  # the old consumers keep the old map
                self.sub_pc = RTCPeerConnection(client_configuration())
                self.sub_pc.on("track", self._on_track)
            pc = self.sub_pc
            await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
            self._follow_sections(pc, offer.sdp)
            await pc.setLocalDescription(await pc.createAnswer())
            if self.hold_answers is not None:
                await self.hold_answers.wait()
            await self.router.subscriber_answer(self.pid, pc.localDescription.sdp, offer.revision)
        except Exception as exc:
            logger.exception("%s failed to answer offer %d", self.pid, offer.revision)
            self.errors.append(exc)

    def _follow_sections(self, pc: RTCPeerConnection, sdp: str) -> None:
        """What each section carries now, as a browser sees it: a section that goes
        inactive ends its track; one that (again) sends names its track in msid. The
        server reuses sections, so one receiver can carry several tracks over time."""
        for mid, (direction, track_id) in offer_sections(sdp).items():
            current = self._by_mid.get(mid)
            sending = direction in ("sendonly", "sendrecv") and track_id is not None
            if current is not None and (not sending or current.track_id != track_id):
                current.ended = True
                del self._by_mid[mid]
            if sending and mid not in self._by_mid:
                transceiver = next((t for t in pc.getTransceivers() if t.mid == mid), None)
                assert transceiver is not None and track_id is not None
                received = ReceivedTrack(
                    kind=transceiver.kind, track_id=track_id, transceiver=transceiver
                )
                self.received[track_id] = received
                self._by_mid[mid] = received
                self.section_history.setdefault(mid, []).append(track_id)

    def _on_track(self, track: MediaStreamTrack) -> None:
        assert self.sub_pc is not None
        transceiver = next(
            (t for t in self.sub_pc.getTransceivers() if t.receiver.track is track), None
        )
        assert transceiver is not None and transceiver.mid is not None
        self._spawn(self._consume(track, transceiver.mid, self._by_mid))

    async def _consume(
        self, track: MediaStreamTrack, mid: str, by_mid: dict[str, ReceivedTrack]
    ) -> None:
        try:
            while True:
                frame = await track.recv()
                received = by_mid.get(mid)
                if received is None:
                    continue
                received.frames += 1
                if isinstance(frame, VideoFrame):
                    if received.frames % 5 == 1:
                        received.colour = mean_left_colour(frame)
                elif isinstance(frame, AudioFrame):
                    # s16 stereo, interleaved: keep the left channel
                    pcm = array("h")
                    pcm.frombytes(bytes(frame.planes[0])[: frame.samples * 4])
                    received.samples.extend(pcm[::2])
        except MediaStreamError:
            received = by_mid.get(mid)
            if received is not None:
                received.ended = True

    def receiver_for(self, track_id: str) -> RTCRtpReceiver:
        tr = self.received[track_id].transceiver
        assert tr is not None
        return tr.receiver

    def live_tracks(self, kind: str | None = None) -> list[ReceivedTrack]:
        return [
            r for r in self.received.values() if not r.ended and (kind is None or r.kind == kind)
        ]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pc in (self.pub_pc, self.sub_pc):
            if pc is not None:
                await pc.close()


class MediaHarness:
    """A router plus clients; routes SubscriberOffer events to the right client."""

    def __init__(self, settings: MediaSettings | None = None) -> None:
        self.settings = settings or MediaSettings(announced_host_addresses=["127.0.0.1"])
        self.router = MediaRouter(self.settings, self._on_event)
        self.events: list[MediaEvent] = []
        self.clients: dict[str, MediaClient] = {}

    async def _on_event(self, event: MediaEvent) -> None:
        self.events.append(event)
        client = self.clients.get(getattr(event, "pid", ""))
        if client is not None:
            client.on_event(event)

    def client(self, pid: str, **kwargs: Any) -> MediaClient:
        client = MediaClient(pid, self.router, **kwargs)
        self.clients[pid] = client
        return client

    def owner(self, track_id: str) -> str:
        for event in self.events:
            if isinstance(event, TrackPublished) and event.track_id == track_id:
                return event.pid
        raise KeyError(track_id)

    def tracks_of(self, pid: str, kind: str | None = None) -> list[str]:
        return [
            e.track_id
            for e in self.events
            if isinstance(e, TrackPublished) and e.pid == pid and (kind is None or e.kind == kind)
        ]

    async def close(self) -> None:
        await self.router.close()
        for client in self.clients.values():
            await client.close()
