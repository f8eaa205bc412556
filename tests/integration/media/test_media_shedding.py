"""Load shedding on real peers: one subscriber's video stops, its audio and everyone else's
video do not, and the video comes back on a keyframe."""

from __future__ import annotations

import asyncio

import pytest
from media_clients import COLOURS, MediaHarness
from test_media_routing import _start

from support.media import close_colour
from support.waiting import wait_until

pytestmark = pytest.mark.media


async def test_shedding_stops_one_subscribers_video_only(harness: MediaHarness) -> None:
    h = harness
    await _start(h, ["alice", "bob", "carol"], {"bob": {"alice"}, "carol": {"alice"}})
    bob_video = h.clients["bob"].received[h.tracks_of("alice", "video")[0]]
    bob_audio = h.clients["bob"].received[h.tracks_of("alice", "audio")[0]]
    carol_video = h.clients["carol"].received[h.tracks_of("alice", "video")[0]]
    offers_before = h.router.stats()["offers_sent"]

    h.router.set_video_shed("bob", {"alice"})
    await asyncio.sleep(0.4)  # what was already in flight drains
    shed_video, shed_audio, carol_frames = bob_video.frames, bob_audio.frames, carol_video.frames
    await asyncio.sleep(1.0)
    assert bob_video.frames == shed_video, "shed video kept flowing"
    assert bob_audio.frames > shed_audio + 20, "audio is never shed"
    assert carol_video.frames > carol_frames + 5, "another subscriber lost video"
    assert not bob_video.ended

    requests = h.router.stats()["keyframe_requests_sent_upstream"]
    h.router.set_video_shed("bob", set())
    await wait_until(lambda: bob_video.frames > shed_video + 10, 5, "bob's video to resume")
    assert h.router.stats()["keyframe_requests_sent_upstream"] > requests
    assert close_colour(bob_video.colour, COLOURS["alice"])
    assert h.router.stats()["offers_sent"] == offers_before, "shedding must not renegotiate"


async def test_shedding_applies_to_tracks_published_later(harness: MediaHarness) -> None:
    h = harness
    await _start(h, ["alice", "bob"], {"bob": {"alice"}})
    h.router.set_video_shed("bob", {"alice", "dave"})
    dave = h.client("dave")
    await dave.publish()
    h.router.set_routes("bob", {"alice", "dave"})
    dave_audio = h.tracks_of("dave", "audio")[0]
    dave_video = h.tracks_of("dave", "video")[0]
    bob = h.clients["bob"]
    await wait_until(
        lambda: dave_audio in bob.received and bob.received[dave_audio].frames > 20,
        10,
        "dave's audio at bob",
    )
    got = bob.received.get(dave_video)
    assert got is None or got.frames == 0, "dave's video reached bob while shed"


async def test_the_servers_ice_sockets_read_in_batches(harness: MediaHarness) -> None:
    from hearing_server.media import aiortc_hooks as hooks

    h = harness
    await _start(h, ["alice", "bob"], {"bob": {"alice"}})
    pcs = [h.router._publishers["alice"].pc, h.router._subscribers["bob"]._pc]
    for pc in pcs:
        transports = [
            p.transport for c in hooks._ice_connections(pc) for p in c._protocols
        ]
        assert transports and all(getattr(t, hooks._BATCH_MARK, False) for t in transports)
