"""Publishers that leave a subscriber and come back (waiting room and readmission, a
reconnect, removal and a new connection): the returning track reuses its retired section,
no offer ever repeats an msid (Chromium refuses the whole offer), the SDP stays bounded.
Plus ``resubscribe``: a fresh offer on request."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

import pytest
from media_clients import COLOURS, MediaHarness, offer_sections

from hearing_server.media import MediaError, SubscriberOffer, TrackUnpublished
from support.media import close_colour
from support.waiting import wait_until

pytestmark = pytest.mark.media


def _msids(sdp: str) -> list[str]:
    return re.findall(r"^a=msid:(.*?)\r?$", sdp, flags=re.M)


def _sections(sdp: str) -> int:
    return len(re.findall(r"^m=", sdp, flags=re.M))


def _assert_offers_valid(h: MediaHarness, pid: str) -> None:
    """No offer to ``pid`` repeats an msid; inactive sections carry none."""
    for offer in h.clients[pid].offers:
        counts = Counter(_msids(offer.sdp))
        assert all(n == 1 for n in counts.values()), (offer.revision, counts)
        for mid, (direction, track_id) in offer_sections(offer.sdp).items():
            if direction == "inactive":
                assert track_id is None, (offer.revision, mid)


def _flowing(h: MediaHarness, sub: str, pub: str, since: dict[str, int] | None = None) -> bool:
    client = h.clients[sub]
    for track_id in set(h.tracks_of(pub)):
        got = client.received.get(track_id)
        if got is None or got.ended or got.frames < 5 + (since or {}).get(track_id, 0):
            return False
        if got.kind == "video" and not close_colour(got.colour, COLOURS[pub]):
            return False
    return True


def _describe(h: MediaHarness) -> str:
    return "; ".join(
        f"{pid}: "
        + ", ".join(
            f"{t.track_id}={t.frames}{'(ended)' if t.ended else ''}" for t in c.received.values()
        )
        + f" sections={c.section_history} errors={c.errors}"
        for pid, c in h.clients.items()
    )


async def _start(h: MediaHarness) -> None:
    await h.client("alice").publish()
    h.client("bob")
    h.router.set_routes("bob", {"alice"})
    await wait_until(lambda: _flowing(h, "bob", "alice"), 10, "alice at bob", lambda: _describe(h))


async def _returns_and_plays(h: MediaHarness, what: str) -> None:
    bob = h.clients["bob"]
    await wait_until(
        lambda: _flowing(h, "bob", "alice"), 10, f"alice at bob ({what})", lambda: _describe(h)
    )
    await asyncio.wait_for(h.router.wait_negotiated("bob"), 10)
    _assert_offers_valid(h, "bob")
    assert bob.offers and _sections(bob.offers[-1].sdp) == 2, bob.offers[-1].sdp
    assert bob.errors == []


async def _leaves(h: MediaHarness, what: str) -> None:
    bob = h.clients["bob"]
    await wait_until(lambda: not bob.live_tracks(), 10, f"alice to leave bob ({what})")
    await asyncio.wait_for(h.router.wait_negotiated("bob"), 10)
    assert bob.sub_pc is not None
    assert {t.currentDirection for t in bob.sub_pc.getTransceivers()} == {"inactive"}


async def test_readmitted_publisher_reuses_its_sections(harness: MediaHarness) -> None:
    h = harness
    await _start(h)
    bob = h.clients["bob"]
    first = {mid: list(ids) for mid, ids in bob.section_history.items()}
    for n in range(2):
        h.router.set_routes("bob", set())  # alice back to the waiting room, say
        await _leaves(h, f"round {n}")
        h.router.set_routes("bob", {"alice"})  # and admitted again
        await _returns_and_plays(h, f"round {n}")
    # the same two sections carried alice's two tracks each time
    assert set(bob.section_history) == set(first)
    for mid, history in bob.section_history.items():
        assert history == first[mid] * 3
    assert h.router.stats()["decoded_frames"] == 0


async def test_reconnected_publisher_reuses_sections_and_plays(harness: MediaHarness) -> None:
    h = harness
    await _start(h)
    alice, bob = h.clients["alice"], h.clients["bob"]
    for n in range(2):
        assert alice.pub_pc is not None
        await alice.pub_pc.close()  # alice's connection goes away ...
        await _leaves(h, f"reconnect {n}")
        await alice.publish()  # ... and she publishes again on a new one
        await _returns_and_plays(h, f"reconnect {n}")
    assert len(bob.section_history) == 2


async def test_removed_publisher_routed_again_reuses_sections(harness: MediaHarness) -> None:
    h = harness
    await _start(h)
    alice = h.clients["alice"]
    for n in range(2):
        await h.router.remove("alice")  # she left: routes no longer name her
        await _leaves(h, f"removal {n}")
        assert alice.pub_pc is not None
        await alice.pub_pc.close()
        await alice.publish()
        h.router.set_routes("bob", {"alice"})
        await _returns_and_plays(h, f"removal {n}")


async def test_returning_with_another_codec_takes_a_new_section_without_repeating_msid(
    harness: MediaHarness,
) -> None:
    h = harness
    await _start(h)
    alice, bob = h.clients["alice"], h.clients["bob"]
    assert alice.pub_pc is not None
    await alice.pub_pc.close()
    await _leaves(h, "VP8 gone")
    alice.video_codec = "H264"
    await alice.publish()  # same track ids, another codec: the VP8 section cannot carry it
    await wait_until(
        lambda: _flowing(h, "bob", "alice"), 15, "alice's H.264 at bob", lambda: _describe(h)
    )
    await asyncio.wait_for(h.router.wait_negotiated("bob"), 10)
    _assert_offers_valid(h, "bob")
    last = bob.offers[-1].sdp
    assert _sections(last) == 3  # audio reused, VP8 retired, H.264 new
    video_id = h.tracks_of("alice", "video")[-1]
    assert _msids(last).count(f"alice {video_id}") == 1
    assert bob.errors == []


async def test_quick_reconnect_swaps_the_source_in_place(harness: MediaHarness) -> None:
    h = harness
    await _start(h)
    alice, bob = h.clients["alice"], h.clients["bob"]
    carol = h.client("carol")
    await carol.publish()
    # bob sits on an offer (carol's tracks), so what follows reaches his connection at once
    bob.hold_answers = asyncio.Event()
    h.router.set_routes("bob", {"alice", "carol"})
    await wait_until(lambda: len(bob.offers) == 2, 10, "the offer with carol")

    assert alice.pub_pc is not None
    await alice.pub_pc.close()
    alice_tracks = set(h.tracks_of("alice"))
    await wait_until(
        lambda: alice_tracks <= {e.track_id for e in h.events if isinstance(e, TrackUnpublished)},
        10,
        "alice's tracks to be unpublished",
    )
    await alice.publish()  # the same track ids again, from new forwarders
    bob.hold_answers.set()

    await wait_until(
        lambda: _flowing(h, "bob", "carol") and _flowing(h, "bob", "alice"),
        10,
        "alice and carol at bob",
        lambda: _describe(h),
    )
    await asyncio.wait_for(h.router.wait_negotiated("bob"), 10)
    # alice's sections never went inactive: nothing to renegotiate for her return
    assert len(bob.offers) == 2
    assert _sections(bob.offers[-1].sdp) == 4
    frames = {t: bob.received[t].frames for t in alice_tracks}
    await wait_until(
        lambda: _flowing(h, "bob", "alice", since=frames), 10, "alice still flowing at bob"
    )
    _assert_offers_valid(h, "bob")
    assert bob.errors == []


# --- resubscribe ----------------------------------------------------------------------


async def test_resubscribe_offers_again_on_the_same_connection(harness: MediaHarness) -> None:
    h = harness
    await _start(h)
    bob = h.clients["bob"]
    await asyncio.wait_for(h.router.wait_negotiated("bob"), 10)
    before = bob.offers[-1]
    pc = bob.sub_pc

    revision = await asyncio.wait_for(h.router.resubscribe("bob"), 10)

    assert revision == before.revision + 1
    await wait_until(lambda: len(bob.offers) == 2, 5, "the new offer")
    again = bob.offers[-1]
    assert again.revision == revision and not again.restart
    assert offer_sections(again.sdp) == offer_sections(before.sdp)
    await asyncio.wait_for(h.router.wait_negotiated("bob"), 10)
    assert bob.sub_pc is pc and bob.errors == []
    frames = {t: bob.received[t].frames for t in h.tracks_of("alice")}
    await wait_until(lambda: _flowing(h, "bob", "alice", since=frames), 10, "media after")


async def test_resubscribe_replaces_an_unanswered_offer(harness: MediaHarness) -> None:
    h = harness
    await _start(h)
    bob = h.clients["bob"]
    await asyncio.wait_for(h.router.wait_negotiated("bob"), 10)
    carol = h.client("carol")
    await carol.publish()
    bob.hold_answers = asyncio.Event()
    h.router.set_routes("bob", {"alice", "carol"})
    await wait_until(lambda: len(bob.offers) == 2, 10, "the offer with carol")
    pending = bob.offers[-1]

    revision = await asyncio.wait_for(h.router.resubscribe("bob"), 10)
    assert revision == pending.revision + 1
    with pytest.raises(MediaError) as info:
        await h.router.subscriber_answer("bob", "v=0\r\n", pending.revision)
    assert info.value.code == "stale_answer"

    await wait_until(lambda: len(bob.offers) == 3, 5, "the replacing offer")
    bob.hold_answers.set()
    await wait_until(lambda: _flowing(h, "bob", "carol"), 10, "carol at bob", lambda: _describe(h))
    await asyncio.wait_for(h.router.wait_negotiated("bob"), 10)
    # the held answer to the replaced offer was refused; the one to the new offer was not
    assert [e.code for e in bob.errors if isinstance(e, MediaError)] == ["stale_answer"]


async def test_resubscribe_with_restart_starts_a_new_connection(harness: MediaHarness) -> None:
    h = harness
    await _start(h)
    bob = h.clients["bob"]
    await asyncio.wait_for(h.router.wait_negotiated("bob"), 10)
    old_pc = bob.sub_pc

    revision = await asyncio.wait_for(h.router.resubscribe("bob", restart=True), 10)

    offer = next(o for o in bob.offers if o.revision == revision)
    assert offer.restart
    await wait_until(
        lambda: bob.sub_pc is not old_pc and _flowing(h, "bob", "alice"),
        10,
        "alice on bob's new connection",
        lambda: _describe(h),
    )
    assert bob.errors == []


async def test_resubscribe_restarts_when_the_connection_is_gone(harness: MediaHarness) -> None:
    h = harness
    await _start(h)
    await asyncio.wait_for(h.router.wait_negotiated("bob"), 10)
    sub = h.router._subscribers["bob"]
    assert sub._pc is not None
    await sub._pc.close()  # the server's side of bob's subscribe connection is gone

    revision = await asyncio.wait_for(h.router.resubscribe("bob"), 10)

    offers = [e for e in h.events if isinstance(e, SubscriberOffer) and e.pid == "bob"]
    assert offers[-1].revision == revision and offers[-1].restart
    await wait_until(
        lambda: _flowing(h, "bob", "alice"),
        10,
        "alice on bob's new connection",
        lambda: _describe(h),
    )


async def test_resubscribe_with_nothing_to_offer(harness: MediaHarness) -> None:
    h = harness
    assert await h.router.resubscribe("nobody") is None
    h.router.set_routes("bob", set())  # the waiting room: no connection yet
    assert await asyncio.wait_for(h.router.resubscribe("bob"), 5) is None
    with pytest.raises(MediaError) as info:
        await h.router.resubscribe("bad id")
    assert info.value.code == "invalid_participant_id"
    await h.router.close()
    with pytest.raises(MediaError) as info:
        await h.router.resubscribe("bob")
    assert info.value.code == "closed"
