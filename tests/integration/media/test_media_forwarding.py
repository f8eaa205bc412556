"""Forwarding among real aiortc peers on loopback: who gets what, in which codec, decoded
by the clients only."""

from __future__ import annotations

import re

import pytest
from media_clients import COLOURS, TONES, MediaHarness

from hearing_server.media import SubscriberOffer, TrackPublished
from support.media import close_colour
from support.waiting import wait_until

pytestmark = pytest.mark.media


def _describe(h: MediaHarness) -> str:
    parts = []
    for pid, client in h.clients.items():
        tracks = ", ".join(
            f"{t.track_id}:{t.frames}f{'(ended)' if t.ended else ''}:{t.colour}"
            for t in client.received.values()
        )
        parts.append(f"{pid}[{tracks}] errors={client.errors}")
    return "; ".join(parts) + f" stats={h.router.stats()}"


def _receives_everyone(h: MediaHarness, pid: str, others: list[str], frames: int = 8) -> bool:
    client = h.clients[pid]
    for other in others:
        for track_id in h.tracks_of(other):
            got = client.received.get(track_id)
            if got is None or got.ended or got.frames < frames:
                return False
            if got.kind == "video" and not close_colour(got.colour, COLOURS[other]):
                return False
            if got.kind == "audio" and got.dominant_tone(list(TONES.values())) != TONES[other]:
                return False
    return True


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_three_participants_receive_each_other_unchanged(
    harness: MediaHarness, codec: str
) -> None:
    h = harness
    pids = ["alice", "bob", "carol"]
    for pid in pids:
        await h.client(pid, video_codec=codec).publish()
    for pid in pids:
        h.router.set_routes(pid, set(pids))  # own pid is ignored

    for pid in pids:
        others = [p for p in pids if p != pid]
        await wait_until(
            lambda pid=pid, others=others: _receives_everyone(h, pid, others),
            timeout=12,
            what=f"{pid} to decode both others' colour and tone",
            describe=lambda: _describe(h),
        )

    published = [e for e in h.events if isinstance(e, TrackPublished)]
    assert {(e.pid, e.kind) for e in published} == {
        (p, k) for p in pids for k in ("audio", "video")
    }
    assert {e.codec for e in published if e.kind == "video"} == {f"video/{codec}"}
    assert {e.codec for e in published if e.kind == "audio"} == {"audio/opus"}

    # subscribers were offered exactly the publisher's video codec
    for offer in (e for e in h.events if isinstance(e, SubscriberOffer)):
        video_codecs = set(re.findall(r"a=rtpmap:\d+ (\w+)/90000", offer.sdp)) - {"rtx"}
        assert video_codecs <= {codec}
        assert "stun" not in offer.sdp and "srflx" not in offer.sdp

    stats = h.router.stats()
    assert stats["forwarded_frames"] > 0
    assert stats["forwarded_packets"] >= stats["forwarded_frames"]
    assert stats["decoded_frames"] == 0
    assert stats["encoded_frames"] == 0
    assert stats["keyframe_requests_sent_upstream"] >= 1
    assert all(not c.errors for c in h.clients.values())

    # each publisher's browser is told the bitrate range to send video in (its own
    # estimate would start at 300 kbps and scale the camera down meanwhile) ...
    for pid in pids:
        answer = h.clients[pid].answer_sdp
        assert answer is not None
        video = answer.split("m=video", 1)[1]
        pt = re.search(rf"a=rtpmap:(\d+) {codec}/90000", video)
        assert pt is not None
        fmtp = re.search(rf"^a=fmtp:{pt.group(1)} (.*?)\r?$", video, flags=re.M)
        assert fmtp is not None
        assert fmtp.group(1).endswith(
            "x-google-start-bitrate=1000;x-google-min-bitrate=300;x-google-max-bitrate=1500"
        )
        # and gets no REMB: aiortc's estimate follows the incoming rate and throttles
        assert "abs-send-time" not in video and "goog-remb" not in video
        audio = answer.split("m=audio", 1)[1].split("m=video", 1)[0]
        assert "a=rtpmap:" in audio and "x-google" not in audio
