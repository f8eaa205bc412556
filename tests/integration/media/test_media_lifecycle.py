"""Connections that change after the start: renegotiated publishing, trickled candidates,
connections that close underneath the router."""

from __future__ import annotations

import pytest
from media_clients import COLOURS, MediaHarness

from hearing_server.media import MediaError, PeerStateChanged, SubscriberOffer, TrackUnpublished
from support.media import close_colour
from support.waiting import wait_until

pytestmark = pytest.mark.media


def _video_ok(h: MediaHarness, sub: str, pub: str) -> bool:
    ids = h.tracks_of(pub, "video")
    got = h.clients[sub].received.get(ids[-1]) if ids else None
    return (
        got is not None
        and not got.ended
        and got.frames >= 5
        and close_colour(got.colour, COLOURS[pub])
    )


async def test_publisher_adds_video_by_renegotiating(harness: MediaHarness) -> None:
    h = harness
    alice, bob = h.client("alice"), h.client("bob")
    await alice.publish(video=False)
    h.router.set_routes("bob", {"alice"})
    audio_id = h.tracks_of("alice", "audio")[0]
    await wait_until(
        lambda: bob.received.get(audio_id) is not None and bob.received[audio_id].frames > 10,
        10,
        "alice's audio at bob",
    )
    await alice.add_video()
    await wait_until(lambda: _video_ok(h, "bob", "alice"), 10, "alice's video after renegotiation")
    assert not bob.received[audio_id].ended
    assert h.router.stats()["decoded_frames"] == 0


async def test_trickled_candidates_are_accepted(harness: MediaHarness) -> None:
    h = harness
    alice = h.client("alice")
    h.client("bob")
    await alice.publish(trickle=True)
    h.router.set_routes("bob", {"alice"})
    await wait_until(lambda: _video_ok(h, "bob", "alice"), 10, "alice's video at bob")
    with pytest.raises(MediaError) as info:
        await h.router.add_ice_candidate("alice", "publish", "candidate:garbage")
    assert info.value.code == "invalid_candidate"
    with pytest.raises(MediaError) as info:
        await h.router.add_ice_candidate("nobody", "publish", None)
    assert info.value.code == "unknown_participant"


async def test_subscriber_gets_a_new_connection_after_losing_one(harness: MediaHarness) -> None:
    h = harness
    alice, bob = h.client("alice"), h.client("bob")
    await alice.publish()
    h.router.set_routes("bob", {"alice"})
    await wait_until(lambda: _video_ok(h, "bob", "alice"), 10, "alice's video at bob")
    assert bob.sub_pc is not None
    await bob.sub_pc.close()  # the client's side goes away

    await wait_until(
        lambda: any(
            isinstance(e, SubscriberOffer) and e.pid == "bob" and e.restart for e in h.events
        ),
        10,
        "a restart offer for bob",
    )
    await wait_until(lambda: _video_ok(h, "bob", "alice"), 10, "alice's video on the new pc")
    states = [
        e.state
        for e in h.events
        if isinstance(e, PeerStateChanged) and e.pid == "bob" and e.which_pc == "subscribe"
    ]
    assert "closed" in states and states[-1] == "connected"


async def test_publisher_connection_closing_unpublishes_its_tracks(harness: MediaHarness) -> None:
    h = harness
    alice, bob = h.client("alice"), h.client("bob")
    await alice.publish()
    h.router.set_routes("bob", {"alice"})
    await wait_until(lambda: _video_ok(h, "bob", "alice"), 10, "alice's video at bob")
    assert alice.pub_pc is not None
    await alice.pub_pc.close()

    alice_tracks = set(h.tracks_of("alice"))
    await wait_until(
        lambda: {e.track_id for e in h.events if isinstance(e, TrackUnpublished)} == alice_tracks,
        10,
        "alice's tracks to be unpublished",
    )
    await wait_until(
        lambda: all(bob.received[t].ended for t in alice_tracks), 10, "bob's copies to end"
    )
    assert h.router.stats()["publishers"] == 0
    # alice may publish again on a new connection; bob's route still names her
    await alice.publish()
    await wait_until(lambda: _video_ok(h, "bob", "alice"), 10, "alice back at bob")
