"""The aiortc/aioice internals the media layer relies on: fail loudly if an upgrade moves
them, and check each hook does what forwarding needs."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import aioice.ice
import pytest
from aiortc import (
    RTCConfiguration,
    RTCDtlsTransport,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
)
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtp import RtcpByePacket, RtpPacket

from hearing_server.media import aiortc_hooks as hooks
from hearing_server.media.forwarder import ForwardedOutput, SenderTrack
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
        (RTCRtpSender, "_run_rtp"),
        (RTCRtpSender, "_retransmit"),
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


def test_sender_report_without_our_counters_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    async def _run_rtcp(self: Any) -> None:  # an RTCP task that no longer reads them
        return None

    monkeypatch.setattr(RTCRtpSender, "_run_rtcp", _run_rtcp)
    with pytest.raises(hooks.AiortcIncompatible, match="__packet_count"):
        hooks.verify()


def test_dtls_transport_without_its_srtp_session_fails_loudly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def _send_rtp(self: Any, data: bytes) -> None:
        return None

    monkeypatch.setattr(RTCDtlsTransport, "_send_rtp", _send_rtp)
    with pytest.raises(hooks.AiortcIncompatible, match="_tx_srtp"):
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


async def _connected_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[RTCPeerConnection, RTCPeerConnection, SenderTrack, hooks.DirectSender, Any, _Sink]:
    """A server peer sending one VP8 section through the direct sender, and a client peer
    whose receiver is tapped (it records the RTP packets it gets), over loopback."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    server = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    counters = MediaCounters()
    track = SenderTrack("video", "alice-video-0", 90000, counters)
    transceiver = server.addTransceiver(track, direction="sendonly")
    transceiver.setCodecPreferences(
        [
            c
            for c in RTCRtpSender.getCapabilities("video").codecs
            if c.mimeType in ("video/VP8", "video/rtx")
        ]
    )
    keyframe_requests: list[int] = []
    direct = hooks.prepare_forwarding_sender(
        transceiver.sender,
        lambda: keyframe_requests.append(1),
        stream_id="alice",
        on_ready=track.sender_ready,
        counters=counters,
    )
    track.use_sender(direct)
    sink = _Sink()

    @client.on("track")
    def on_track(remote: Any) -> None:
        for t in client.getTransceivers():
            if t.receiver.track is remote:
                hooks.tap_receiver(t.receiver, sink, lambda: None)

    await server.setLocalDescription(await server.createOffer())
    assert "a=msid:alice alice-video-0" in server.localDescription.sdp
    await client.setRemoteDescription(server.localDescription)
    await client.setLocalDescription(await client.createAnswer())
    await server.setRemoteDescription(client.localDescription)
    for _ in range(200):
        if direct.ready:
            break
        await asyncio.sleep(0.02)
    assert direct.ready
    return server, client, track, direct, keyframe_requests, sink


async def test_direct_sender_sends_frames_that_the_client_receives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, client, track, direct, keyframe_requests, sink = await _connected_pair(monkeypatch)
    try:
        source = ForwardedOutput("video", "alice-video-0")
        track.bind(source, "alice-video-0")
        track.activate()
        frames = [
            ((b"\x10a", b"\x00b", b"\x00c"), 0),
            ((b"\x11d",), 3000),
            ((b"\x11e", b"\x01f"), 6000),
        ]
        for payloads, ts in frames:
            assert source.offer(ForwardedFrame(payloads, ts, keyframe=ts == 0))
        for _ in range(100):
            if len(sink.packets) >= 6:
                break
            await asyncio.sleep(0.02)
        got = sink.packets
        assert [p.payload for p in got] == [
            b"\x10a",
            b"\x00b",
            b"\x00c",
            b"\x11d",
            b"\x11e",
            b"\x01f",
        ]
        assert [p.marker for p in got] == [0, 0, 1, 1, 0, 1]  # the last packet of each frame
        assert track._counters.forwarded_packets == 6
        assert track._counters.forwarded_bytes == 12  # payload bytes: 6 packets of 2
        seqs = [p.sequence_number for p in got]
        assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
        stamps = [p.timestamp for p in got]
        assert (stamps[3] - stamps[0]) & 0xFFFFFFFF == 3000
        assert all(p.ssrc == _sender_ssrc(server) for p in got)
        # the header extensions the client negotiated: its mid, and a send time
        assert {p.extensions.mid for p in got} == {client.getTransceivers()[0].mid}
        assert all(p.extensions.abs_send_time is not None for p in got)
        assert direct.packets_sent == 6

        # the subscriber's PLI reaches the forwarder's callback
        receiver = client.getTransceivers()[0].receiver
        await receiver._send_rtcp_pli(_sender_ssrc(server))
        for _ in range(100):
            if keyframe_requests:
                break
            await asyncio.sleep(0.02)
        assert keyframe_requests == [1]

        # aiortc's RTCP task reports what the direct sender sent (sender report)
        for _ in range(150):
            stats = await receiver.getStats()
            sent = [s for s in stats.values() if s.type == "remote-outbound-rtp"]
            if sent:
                break
            await asyncio.sleep(0.05)
        assert sent and sent[0].packetsSent == 6
    finally:
        await server.close()
        await client.close()
    assert direct.closed and not direct.ready
    assert not source.offer(ForwardedFrame((b"\x11g",), 9000, keyframe=False))


def _sender_ssrc(pc: RTCPeerConnection) -> int:
    return int(pc.getTransceivers()[0].sender._ssrc)


async def test_a_nacked_packet_is_sent_again_through_rtx(monkeypatch: pytest.MonkeyPatch) -> None:
    server, client, track, direct, _requests, sink = await _connected_pair(monkeypatch)
    try:
        # the client loses the second packet it receives (dropped once decrypted, unparsed)
        dtls = client.getTransceivers()[0].receiver.transport
        original = dtls._handle_rtp_data
        dropped: list[int] = []

        async def lossy(data: bytes, arrival_time_ms: int) -> None:
            seq = int.from_bytes(data[2:4], "big")
            if (
                len(dropped) == 0
                and (data[1] & 0x7F) != _rtx_payload_type(client)
                and _packet_count(sink) == 1
            ):
                dropped.append(seq)
                return
            await original(data, arrival_time_ms)

        monkeypatch.setattr(dtls, "_handle_rtp_data", lossy)
        source = ForwardedOutput("video", "alice-video-0")
        track.bind(source, "alice-video-0")
        track.activate()
        for i in range(6):  # the client's NACK needs a later packet to see the gap
            assert source.offer(
                ForwardedFrame((bytes([0x10 if i == 0 else 0x11, i]),), i * 3000, keyframe=i == 0)
            )
            await asyncio.sleep(0.03)
        for _ in range(100):
            if dropped and dropped[0] in {p.sequence_number for p in sink.packets}:
                break
            await asyncio.sleep(0.02)
        assert dropped, "no packet was dropped"
        assert dropped[0] in {p.sequence_number for p in sink.packets}  # recovered from RTX
        assert direct.retransmitted >= 1
    finally:
        await server.close()
        await client.close()


def _packet_count(sink: _Sink) -> int:
    return len(sink.packets)


def _rtx_payload_type(pc: RTCPeerConnection) -> int:
    for codec in pc.getTransceivers()[0]._codecs:
        if codec.mimeType == "video/rtx" and codec.payloadType is not None:
            return codec.payloadType
    return -1


async def test_msid_follows_the_stream_id_and_replaced_track() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        track = SenderTrack("video", "alice-video-0", 90000, MediaCounters())
        transceiver = pc.addTransceiver(track, direction="sendonly")
        hooks.prepare_forwarding_sender(
            transceiver.sender, lambda: None, stream_id="alice", on_ready=track.sender_ready
        )
        assert "a=msid:alice alice-video-0\r\n" in (await pc.createOffer()).sdp
        # the section is reused for another publisher's track
        track.bind(ForwardedOutput("video", "carol-video-2"), "carol-video-2")
        hooks.set_stream_id(transceiver.sender, "carol")
        transceiver.sender.replaceTrack(track)
        assert "a=msid:carol carol-video-2\r\n" in (await pc.createOffer()).sdp
    finally:
        await pc.close()


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
