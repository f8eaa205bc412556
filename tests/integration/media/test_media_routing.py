"""Routing changes, mute, removal, keyframe requests and bad input, on real peers."""

from __future__ import annotations

import asyncio
import re

import aioice.ice
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender
from media_clients import COLOURS, MediaHarness, client_configuration

from hearing_server.media import (
    MediaError,
    MediaRouter,
    MediaSettings,
    PeerStateChanged,
    SubscriberOffer,
    TrackUnpublished,
)
from hearing_server.media.peers import make_configuration
from support.media import ToneAudioTrack, close_colour
from support.waiting import wait_until

pytestmark = pytest.mark.media


def _flowing(h: MediaHarness, pid: str, publishers: list[str], frames: int = 5) -> bool:
    client = h.clients[pid]
    for pub in publishers:
        for track_id in h.tracks_of(pub):
            got = client.received.get(track_id)
            if got is None or got.ended or got.frames < frames:
                return False
            if got.kind == "video" and not close_colour(got.colour, COLOURS[pub]):
                return False
    return True


def _describe(h: MediaHarness) -> str:
    return (
        "; ".join(
            f"{pid}: "
            + ", ".join(
                f"{t.track_id}={t.frames}{'(ended)' if t.ended else ''}"
                for t in c.received.values()
            )
            + f" errors={c.errors}"
            for pid, c in h.clients.items()
        )
        + f" stats={h.router.stats()}"
    )


async def _start(h: MediaHarness, pids: list[str], routes: dict[str, set[str]]) -> None:
    for pid in pids:
        await h.client(pid).publish()
    for sub, pubs in routes.items():
        h.router.set_routes(sub, pubs)
    for sub, pubs in routes.items():
        await wait_until(
            lambda sub=sub, pubs=pubs: _flowing(h, sub, sorted(pubs - {sub})),
            timeout=10,
            what=f"{sub} receiving {sorted(pubs)}",
            describe=lambda: _describe(h),
        )


async def test_empty_route_receives_nothing_until_routed(harness: MediaHarness) -> None:
    h = harness
    await _start(h, ["alice", "bob"], {"alice": {"bob"}, "bob": {"alice"}})
    carol = h.client("carol")
    await carol.publish()
    h.router.set_routes("carol", set())  # the waiting room
    h.router.set_routes("alice", {"bob", "carol"})
    await wait_until(lambda: _flowing(h, "alice", ["bob", "carol"]), 10, "alice gets carol")

    await asyncio.sleep(0.5)
    assert carol.offers == [] and carol.received == {}
    assert h.router.subscribed_track_ids("carol") == []

    h.router.set_routes("carol", {"alice", "bob"})  # admitted
    await wait_until(
        lambda: _flowing(h, "carol", ["alice", "bob"]), 10, "carol admitted", lambda: _describe(h)
    )
    # bob stays unaware of carol: his route does not name her
    assert not any(h.owner(t) == "carol" for t in h.clients["bob"].received)

    # back to the waiting room: carol's received tracks end, her transceivers go inactive
    h.router.set_routes("carol", set())
    await wait_until(
        lambda: not carol.live_tracks(), 10, "carol's tracks to end", lambda: _describe(h)
    )
    await asyncio.wait_for(h.router.wait_negotiated("carol"), 10)
    assert carol.sub_pc is not None
    assert {t.currentDirection for t in carol.sub_pc.getTransceivers()} == {"inactive"}
    assert all(not c.errors for c in h.clients.values())


async def test_mute_stops_audio_without_renegotiation_and_unmute_resumes(
    harness: MediaHarness,
) -> None:
    h = harness
    await _start(h, ["alice", "bob"], {"bob": {"alice"}})
    bob = h.clients["bob"]
    audio = bob.received[h.tracks_of("alice", "audio")[0]]
    video = bob.received[h.tracks_of("alice", "video")[0]]
    offers_before = h.router.stats()["offers_sent"]

    h.router.set_forwarding("alice", "audio", False)
    await asyncio.sleep(0.4)  # let what was already in flight drain
    muted_audio, muted_video = audio.frames, video.frames
    await asyncio.sleep(1.0)
    assert audio.frames == muted_audio, "audio kept flowing while muted"
    assert video.frames > muted_video + 5, "video must keep flowing"

    h.router.set_forwarding("alice", "audio", True)
    await wait_until(lambda: audio.frames > muted_audio + 20, 5, "audio to resume")
    assert h.router.stats()["offers_sent"] == offers_before
    assert not audio.ended


async def test_mute_video_resumes_on_a_keyframe(harness: MediaHarness) -> None:
    h = harness
    await _start(h, ["alice", "bob"], {"bob": {"alice"}})
    video = h.clients["bob"].received[h.tracks_of("alice", "video")[0]]
    h.router.set_forwarding("alice", "video", False)
    await asyncio.sleep(0.4)
    paused = video.frames
    await asyncio.sleep(0.6)
    assert video.frames == paused
    requests = h.router.stats()["keyframe_requests_sent_upstream"]
    h.router.set_forwarding("alice", "video", True)
    await wait_until(lambda: video.frames > paused + 10, 5, "video to resume")
    assert h.router.stats()["keyframe_requests_sent_upstream"] > requests
    assert close_colour(video.colour, COLOURS["alice"])


async def test_remove_takes_tracks_away_from_everyone(harness: MediaHarness) -> None:
    h = harness
    pids = ["alice", "bob", "carol"]
    await _start(h, pids, {p: set(pids) for p in pids})
    carol_tracks = set(h.tracks_of("carol"))

    await h.router.remove("carol")

    unpublished = {e.track_id for e in h.events if isinstance(e, TrackUnpublished)}
    assert unpublished == carol_tracks
    for pid in ("alice", "bob"):
        client = h.clients[pid]
        await wait_until(
            lambda client=client: all(client.received[t].ended for t in carol_tracks),
            10,
            f"carol's tracks to end at {pid}",
            lambda: _describe(h),
        )
        await asyncio.wait_for(h.router.wait_negotiated(pid), 10)
        for track_id in carol_tracks:
            transceiver = client.received[track_id].transceiver
            assert transceiver is not None and transceiver.currentDirection == "inactive"
    # the others keep receiving each other
    alice = h.clients["alice"]
    bob_video = alice.received[h.tracks_of("bob", "video")[0]]
    before = bob_video.frames
    await wait_until(lambda: bob_video.frames > before + 5, 5, "bob's video to keep flowing")
    stats = h.router.stats()
    assert stats["publishers"] == 2 and stats["subscribers"] == 2
    assert stats["subscriptions"] == 4  # alice's audio and video at bob, and bob's at alice
    assert stats["received_bytes"] > 0 and stats["forwarded_bytes"] > 0
    assert h.router.subscribed_track_ids("alice") == h.tracks_of("bob")
    closed = {
        (e.which_pc, e.state)
        for e in h.events
        if isinstance(e, PeerStateChanged) and e.pid == "carol"
    }
    assert ("publish", "closed") in closed and ("subscribe", "closed") in closed
    await h.router.remove("carol")  # idempotent


async def test_subscriber_pli_reaches_publisher_throttled(harness: MediaHarness) -> None:
    h = harness
    await _start(h, ["alice", "bob"], {"bob": {"alice"}})
    alice, bob = h.clients["alice"], h.clients["bob"]
    video_id = h.tracks_of("alice", "video")[0]
    receiver = bob.receiver_for(video_id)
    ssrc = receiver.getSynchronizationSources()[0].source
    await asyncio.sleep(h.settings.keyframe_throttle_s + 0.1)  # out of any earlier window
    before = h.router.stats()
    at_publisher = alice.publisher_keyframe_requests

    for _ in range(20):  # a burst of PLIs from the subscriber, ~100 ms
        await receiver._send_rtcp_pli(ssrc)
        await asyncio.sleep(0.005)
    await wait_until(
        lambda: (
            h.router.stats()["keyframe_requests_received"]
            >= before["keyframe_requests_received"] + 20
        ),
        5,
        "the server to see all 20 PLIs",
    )
    await asyncio.sleep(h.settings.keyframe_throttle_s + 0.2)
    after = h.router.stats()
    upstream = after["keyframe_requests_sent_upstream"] - before["keyframe_requests_sent_upstream"]
    assert 1 <= upstream <= 2, f"{upstream} PLIs upstream for a 100 ms burst"
    await wait_until(
        lambda: alice.publisher_keyframe_requests > at_publisher, 5, "alice to get a PLI"
    )
    assert alice.publisher_keyframe_requests - at_publisher <= 2


_MALFORMED = [
    "",
    "hello",
    "v=0\r\nm=audio x y\r\n",
    # parses, but no ICE credentials and no fingerprint
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\n",
]


async def test_malformed_offers_are_rejected_and_others_unaffected(harness: MediaHarness) -> None:
    h = harness
    await _start(h, ["alice", "bob"], {"bob": {"alice"}})
    video = h.clients["bob"].received[h.tracks_of("alice", "video")[0]]

    # a real offer that aiortc itself refuses (no rtcp-mux) after our checks passed
    pc = RTCPeerConnection(client_configuration())
    pc.addTransceiver(ToneAudioTrack(440.0), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    no_mux = pc.localDescription.sdp.replace("a=rtcp-mux\r\n", "")
    await pc.close()

    for sdp in [*_MALFORMED, no_mux]:
        with pytest.raises(MediaError) as info:
            await h.router.publish("mallory", sdp)
        assert info.value.code == "invalid_sdp", sdp

    before = video.frames
    await wait_until(lambda: video.frames > before + 5, 5, "alice's video to keep flowing")
    assert h.router.stats()["publishers"] == 2
    assert h.router.published_tracks("mallory") == []


async def test_unsupported_codec_is_rejected(harness: MediaHarness) -> None:
    h = harness
    pc = RTCPeerConnection(client_configuration())
    try:
        tr = pc.addTransceiver(ToneAudioTrack(440.0), direction="sendonly")
        tr.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/PCMU"]
        )
        await pc.setLocalDescription(await pc.createOffer())
        with pytest.raises(MediaError) as info:
            await h.router.publish("mallory", pc.localDescription.sdp)
        assert info.value.code == "unsupported_codec"
        assert h.router.stats()["publishers"] == 0
    finally:
        await pc.close()


async def test_server_gathers_only_on_announced_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = MediaHarness()
    try:
        alice = h.client("alice")
        original_publish = h.router.publish

        async def publish_with_no_host_addresses(pid: str, sdp: str) -> str:
            # as on a host where aioice finds nothing usable: only the override can help
            monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [])
            return await original_publish(pid, sdp)

        monkeypatch.setattr(h.router, "publish", publish_with_no_host_addresses)
        await alice.publish()
        assert alice.answer_sdp is not None
        candidates = re.findall(
            r"a=candidate:\S+ \d+ \w+ \d+ (\S+) \d+ typ (\w+)", alice.answer_sdp
        )
        assert candidates and set(candidates) == {("127.0.0.1", "host")}
        await wait_until(
            lambda: alice.pub_pc is not None and alice.pub_pc.connectionState == "connected",
            10,
            "alice's publish connection",
        )
    finally:
        await h.close()


async def test_stale_answer_and_close_are_safe(harness: MediaHarness) -> None:
    h = harness
    await _start(h, ["alice", "bob"], {"bob": {"alice"}})
    offer = next(e for e in h.events if isinstance(e, SubscriberOffer) and e.pid == "bob")
    with pytest.raises(MediaError) as info:
        await h.router.subscriber_answer("bob", "v=0\r\n", offer.revision)
    assert info.value.code == "no_offer_pending"
    with pytest.raises(MediaError) as info:
        await h.router.subscriber_answer("nobody", "v=0\r\n")
    assert info.value.code == "unknown_participant"
    with pytest.raises(MediaError) as info:
        h.router.set_routes("bad id with spaces", set())
    assert info.value.code == "invalid_participant_id"

    await h.router.close()
    await h.router.close()
    with pytest.raises(MediaError) as info:
        await h.router.publish("alice", "v=0\r\n")
    assert info.value.code == "closed"
    assert h.router.stats()["publishers"] == 0


async def test_router_never_adds_a_public_stun_server() -> None:
    router = MediaRouter(MediaSettings(announced_host_addresses=["127.0.0.1"]), _ignore)
    try:
        assert make_configuration(MediaSettings()).iceServers == []
        turn = make_configuration(
            MediaSettings(
                ice_servers=[{"urls": "turn:127.0.0.1:3478", "username": "u", "credential": "p"}]
            )
        ).iceServers
        assert turn is not None and [s.urls for s in turn] == ["turn:127.0.0.1:3478"]
    finally:
        await router.close()


async def _ignore(_event: object) -> None:
    return None
