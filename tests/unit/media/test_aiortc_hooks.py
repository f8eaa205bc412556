"""The aiortc/aioice internals the media layer relies on: fail loudly if an upgrade moves
them, and check each hook does what forwarding needs."""

from __future__ import annotations

import asyncio
from typing import Any

import aioice.ice
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtp import RTCP_PSFB_PLI, RtcpByePacket, RtcpPsfbPacket, RtpPacket
from av import VideoFrame

from hearing_server.media import aiortc_hooks as hooks
from hearing_server.media.forwarder import ForwardedTrack, PassThroughEncoder, SenderTrack
from hearing_server.media.frames import ForwardedFrame
from hearing_server.media.stats import MediaCounters

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)


def test_installed_aiortc_has_every_hook() -> None:
    hooks.verify()


@pytest.mark.parametrize(
    ("owner", "name"),
    [
        (RTCRtpReceiver, "_handle_rtp_packet"),
        (RTCRtpReceiver, "_send_rtcp_pli"),
        (RTCRtpSender, "_next_encoded_frame"),
        (RTCRtpSender, "_send_keyframe"),
        (JitterBuffer, "add"),
    ],
)
def test_a_missing_method_fails_loudly(
    monkeypatch: pytest.MonkeyPatch, owner: type, name: str
) -> None:
    monkeypatch.delattr(owner, name)
    with pytest.raises(hooks.AiortcIncompatible, match=name) as info:
        hooks.verify()
    assert info.value.code == "aiortc_incompatible"
    assert "1.16.0" in str(info.value)


def test_a_changed_signature_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    async def _send_rtcp_pli(self: Any, media_ssrc: int, reason: str) -> None:
        return None

    monkeypatch.setattr(RTCRtpReceiver, "_send_rtcp_pli", _send_rtcp_pli)
    with pytest.raises(hooks.AiortcIncompatible, match="_send_rtcp_pli"):
        hooks.verify()


def test_a_renamed_private_slot_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    def __init__(self: Any, kind: str, transport: Any) -> None:  # no jitter buffer slot
        self._jitter = None

    monkeypatch.setattr(RTCRtpReceiver, "__init__", __init__)
    with pytest.raises(hooks.AiortcIncompatible, match="__jitter_buffer"):
        hooks.verify()


def test_sender_that_stops_using_pack_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    async def _next_encoded_frame(self: Any, codec: Any) -> None:
        return None

    monkeypatch.setattr(RTCRtpSender, "_next_encoded_frame", _next_encoded_frame)
    with pytest.raises(hooks.AiortcIncompatible, match="pack"):
        hooks.verify()


def test_msid_no_longer_built_from_the_sender_fails_loudly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import aiortc.rtcpeerconnection

    def create_media_description_for_transceiver(
        transceiver: Any, cname: str, direction: str, mid: str
    ) -> None:
        return None

    monkeypatch.setattr(
        aiortc.rtcpeerconnection,
        "create_media_description_for_transceiver",
        create_media_description_for_transceiver,
    )
    with pytest.raises(hooks.AiortcIncompatible, match="_stream_id"):
        hooks.verify()


def test_aioice_host_gathering_change_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda: [])
    with pytest.raises(hooks.AiortcIncompatible, match="get_host_addresses"):
        hooks.verify()


class _Sink:
    def __init__(self) -> None:
        self.packets: list[RtpPacket] = []

    def on_rtp(self, packet: RtpPacket) -> None:
        self.packets.append(packet)


async def test_tapped_receiver_forwards_without_decoding_and_stops_cleanly() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        receiver = pc.addTransceiver("video", direction="recvonly").receiver
        sink = _Sink()
        decode_jobs: list[int] = []
        hooks.tap_receiver(receiver, sink, lambda: decode_jobs.append(1))
        receiver._track = RemoteStreamTrack(kind="video")
        await receiver.receive(RTCRtpReceiveParameters(codecs=[VP8], muxId="0"))
        keyframe = b"\x10" + b"\x00\x00\x00\x9d\x01\x2a" + bytes(30)
        for seq in range(6):
            packet = RtpPacket(
                payload_type=97, sequence_number=seq, timestamp=seq * 3000, ssrc=1234, marker=1
            )
            packet.payload = keyframe
            await receiver._handle_rtp_packet(packet, arrival_time_ms=seq * 33)
        assert [p.sequence_number for p in sink.packets] == list(range(6))
        assert sink.packets[0].payload == keyframe  # the RTP payload, not depayloaded data
        assert decode_jobs == []

        # RTCP BYE must still reach the decoder thread through the replaced queue
        await asyncio.wait_for(receiver._handle_rtcp_packet(RtcpByePacket(sources=[1234])), 5)
        assert await asyncio.wait_for(receiver._track._queue.get(), 5) is None
        await asyncio.wait_for(receiver.stop(), 5)
    finally:
        await pc.close()


def test_decode_jobs_are_counted_at_the_decoder_queue() -> None:
    jobs: list[int] = []
    q = hooks._CountingDecoderQueue(lambda: jobs.append(1))
    q.put(("codec", "frame"))
    q.put(None)
    assert jobs == [1]
    assert q.get() == ("codec", "frame") and q.get() is None


async def test_forwarding_sender_packs_payloads_and_reports_pli() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        track = ForwardedTrack("video", "alice-video-0", 10)
        transceiver = pc.addTransceiver(track, direction="sendonly")
        counters = MediaCounters()
        requests: list[int] = []
        hooks.prepare_forwarding_sender(
            transceiver.sender, PassThroughEncoder(counters), lambda: requests.append(1), "alice"
        )
        offer = await pc.createOffer()
        assert "a=msid:alice alice-video-0" in offer.sdp

        track.offer(ForwardedFrame((b"one", b"two"), 1234, keyframe=True))
        encoded = await transceiver.sender._next_encoded_frame(VP8)
        assert encoded is not None
        assert encoded.payloads == [b"one", b"two"] and encoded.timestamp == 1234
        assert counters.forwarded_frames == 1 and counters.forwarded_packets == 2

        pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=transceiver.sender._ssrc)
        await transceiver.sender._handle_rtcp_packet(pli)
        assert requests == [1]
        assert counters.encoded_frames == 0
    finally:
        await pc.close()


async def test_msid_follows_the_stream_id_and_replaced_track() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        track = SenderTrack("video", "alice-video-0", 90000)
        transceiver = pc.addTransceiver(track, direction="sendonly")
        hooks.prepare_forwarding_sender(
            transceiver.sender, PassThroughEncoder(MediaCounters()), lambda: None, "alice"
        )
        assert "a=msid:alice alice-video-0\r\n" in (await pc.createOffer()).sdp
        # the section is reused for another publisher's track
        track.bind(ForwardedTrack("video", "carol-video-2", 10), "carol-video-2")
        hooks.set_stream_id(transceiver.sender, "carol")
        transceiver.sender.replaceTrack(track)
        assert "a=msid:carol carol-video-2\r\n" in (await pc.createOffer()).sdp
    finally:
        await pc.close()


def test_an_encode_call_is_counted_not_performed() -> None:
    counters = MediaCounters()
    payloads, _ts = PassThroughEncoder(counters).encode(VideoFrame(16, 16, "yuv420p"))
    assert payloads == [] and counters.encoded_frames == 1


def test_host_override_is_scoped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["192.0.2.9"])
    with hooks.announced_host_addresses(["127.0.0.1", "::1"]):
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == [
            "127.0.0.1",
            "::1",
        ]
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["192.0.2.9"]
    with hooks.announced_host_addresses([]):  # empty: aioice's own choice
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["192.0.2.9"]


async def test_host_override_follows_tasks_started_inside_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [])
    release = asyncio.Event()

    async def outside() -> list[str]:
        await release.wait()
        return aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True)

    other = asyncio.ensure_future(outside())
    with hooks.announced_host_addresses(["127.0.0.1"]):
        connection = aioice.Connection(ice_controlling=False)
        await connection.gather_candidates()  # aioice gathers in tasks of its own
        release.set()
        assert await other == []
    try:
        assert [c.host for c in connection.local_candidates] == ["127.0.0.1"]
    finally:
        await connection.close()
