"""Per-track fan-out: keyframe gating, mute, congestion, throttled PLIs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiortc import RTCRtpSender
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from hearing_server.media.codecs import TrackCodec
from hearing_server.media.forwarder import ForwardedTrack, SenderTrack, TrackForwarder
from hearing_server.media.frames import ForwardedFrame
from hearing_server.media.stats import MediaCounters
from hearing_server.media.tasks import TaskOwner

KEY = b"\x10\x00\x00\x00"
DELTA = b"\x10\x01\x00\x00"


def _codec(kind: str, mime: str) -> TrackCodec:
    cap = next(c for c in RTCRtpSender.getCapabilities(kind).codecs if c.mimeType == mime)
    return TrackCodec(kind="video" if kind == "video" else "audio", capability=cap, rtx=None)


class Upstream:
    def __init__(self) -> None:
        self.plis: list[int] = []

    async def send(self, ssrc: int) -> None:
        self.plis.append(ssrc)


@pytest.fixture
async def tasks() -> AsyncIterator[TaskOwner]:
    owner = TaskOwner("test")
    yield owner
    await owner.close()


def _forwarder(
    tasks: TaskOwner,
    upstream: Upstream,
    *,
    kind: str = "video",
    max_queued: int = 10,
    throttle: float = 0.1,
) -> tuple[TrackForwarder, MediaCounters]:
    counters = MediaCounters()
    mime = "video/VP8" if kind == "video" else "audio/opus"
    fwd = TrackForwarder(
        publisher_pid="alice",
        track_id=f"alice-{kind}-0",
        codec=_codec(kind, mime),
        counters=counters,
        tasks=tasks,
        send_pli=upstream.send,
        keyframe_throttle_s=throttle,
        gap_timeout_s=0.5,
        max_queued_frames=max_queued,
    )
    return fwd, counters


class Feed:
    def __init__(self, fwd: TrackForwarder, ssrc: int = 42) -> None:
        self.fwd = fwd
        self.seq = 1000
        self.ts = 0
        self.ssrc = ssrc

    def frame(self, payload: bytes) -> None:
        packet = RtpPacket(
            payload_type=97, sequence_number=self.seq, timestamp=self.ts, ssrc=self.ssrc, marker=1
        )
        packet.payload = payload
        self.fwd.on_rtp(packet)
        self.seq += 1
        self.ts += 3000


async def test_video_subscriber_starts_on_a_keyframe(tasks: TaskOwner) -> None:
    up = Upstream()
    fwd, _ = _forwarder(tasks, up)
    feed = Feed(fwd)
    feed.frame(KEY)  # before anyone subscribes
    track = fwd.attach("bob")
    feed.frame(KEY)  # bob's sender is not pulling yet: nothing queued, nothing asked
    await asyncio.sleep(0)
    assert up.plis == []
    first = asyncio.ensure_future(track.recv())  # the sender starts: ask for a keyframe
    await asyncio.sleep(0.01)
    assert up.plis == [42]
    feed.frame(DELTA)  # not decodable on its own: held back
    feed.frame(KEY)
    feed.frame(DELTA)
    assert (await asyncio.wait_for(first, 1)).keyframe
    assert not (await asyncio.wait_for(track.recv(), 1)).keyframe
    assert len(up.plis) <= 2


async def test_keyframe_requests_are_throttled_and_coalesced(tasks: TaskOwner) -> None:
    up = Upstream()
    fwd, counters = _forwarder(tasks, up, throttle=0.1)
    fwd.request_keyframe()  # SSRC unknown yet: remembered
    Feed(fwd).frame(KEY)
    await asyncio.sleep(0)
    assert up.plis == [42]
    for _ in range(10):
        fwd.on_subscriber_keyframe_request()
    await asyncio.sleep(0)
    assert len(up.plis) == 1  # inside the window: one trailing request is scheduled
    await asyncio.sleep(0.15)
    assert len(up.plis) == 2
    await asyncio.sleep(0.15)
    assert len(up.plis) == 2
    assert counters.keyframe_requests_received == 10
    assert counters.keyframe_requests_sent_upstream == 2


async def test_an_answered_request_does_not_hold_back_a_new_subscriber(
    tasks: TaskOwner,
) -> None:
    """A subscriber that starts just after the keyframe someone else asked for gets its own
    request through after a quarter of the window, not the whole window; subscribers' own
    PLIs stay throttled to the whole window."""
    up = Upstream()
    fwd, counters = _forwarder(tasks, up, throttle=0.2)
    feed = Feed(fwd)
    feed.frame(DELTA)
    fwd.request_keyframe()
    await asyncio.sleep(0)
    assert len(up.plis) == 1
    await asyncio.sleep(0.06)  # past a quarter (0.05 s), but no keyframe yet: still pending
    fwd.request_keyframe(new_subscriber=True)
    await asyncio.sleep(0)
    assert len(up.plis) == 1
    feed.frame(KEY)  # the answer
    fwd.on_subscriber_keyframe_request()  # a subscriber's PLI: waits for the window
    await asyncio.sleep(0)
    assert len(up.plis) == 1
    track = fwd.attach("carol")
    first = asyncio.ensure_future(track.recv())  # carol's sender starts after that keyframe
    await asyncio.sleep(0.01)
    assert len(up.plis) == 2  # at once (this also ends the pending trailing request's wait)
    fwd.request_keyframe(new_subscriber=True)  # right after a request: throttled again
    await asyncio.sleep(0)
    assert len(up.plis) == 2
    await asyncio.sleep(0.25)
    assert len(up.plis) == 3 and counters.keyframe_requests_sent_upstream == 3
    first.cancel()


async def test_a_joining_subscriber_asks_again_on_the_next_frame(tasks: TaskOwner) -> None:
    """Started too soon after the last request for the quarter-window rule, a subscriber
    still waiting for its first frame gets a request through on a later delta frame."""
    up = Upstream()
    fwd, _ = _forwarder(tasks, up, throttle=0.2)
    feed = Feed(fwd)
    feed.frame(DELTA)
    fwd.request_keyframe()
    await asyncio.sleep(0)
    feed.frame(KEY)  # answers it; nobody is pulling yet
    track = fwd.attach("dave")
    first = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.01)
    assert len(up.plis) == 1  # only 10 ms after the last request: deferred
    await asyncio.sleep(0.05)
    feed.frame(DELTA)  # dave is still waiting for his first frame
    await asyncio.sleep(0)
    assert len(up.plis) == 2
    feed.frame(KEY)
    assert (await asyncio.wait_for(first, 1)).keyframe


async def test_mute_stops_forwarding_and_unmute_waits_for_keyframe(tasks: TaskOwner) -> None:
    up = Upstream()
    fwd, _ = _forwarder(tasks, up)
    feed = Feed(fwd)
    track = fwd.attach("bob")
    track.pulling = True
    feed.frame(KEY)
    assert (await asyncio.wait_for(track.recv(), 1)).keyframe
    fwd.set_enabled(False)
    feed.frame(DELTA)
    fwd.set_enabled(True)
    feed.frame(DELTA)  # not decodable after a gap: dropped
    feed.frame(KEY)
    assert (await asyncio.wait_for(track.recv(), 1)).keyframe


async def test_audio_mute(tasks: TaskOwner) -> None:
    fwd, _ = _forwarder(tasks, Upstream(), kind="audio")
    feed = Feed(fwd)
    track = fwd.attach("bob")
    track.pulling = True
    fwd.set_enabled(False)
    feed.frame(b"muted")
    fwd.set_enabled(True)
    feed.frame(b"spoken")
    assert (await asyncio.wait_for(track.recv(), 1)).payloads == (b"spoken",)


async def test_congested_subscriber_is_restarted_on_a_keyframe(tasks: TaskOwner) -> None:
    up = Upstream()
    fwd, counters = _forwarder(tasks, up, max_queued=2)
    feed = Feed(fwd)
    track = fwd.attach("bob")
    track.pulling = True
    feed.frame(KEY)
    feed.frame(DELTA)
    feed.frame(DELTA)  # queue full: dropped, queue flushed, wait for a keyframe
    assert counters.dropped_frames == 1
    feed.frame(DELTA)
    feed.frame(KEY)
    assert (await asyncio.wait_for(track.recv(), 1)).keyframe


async def test_not_yet_pulling_subscriber_gets_no_backlog(tasks: TaskOwner) -> None:
    fwd, _ = _forwarder(tasks, Upstream(), kind="audio")
    feed = Feed(fwd)
    track = fwd.attach("bob")
    for _ in range(5):
        feed.frame(b"old")
    recv = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0)
    feed.frame(b"new")
    assert (await asyncio.wait_for(recv, 1)).payloads == (b"new",)


async def test_detach_and_close_end_the_subscriber_tracks(tasks: TaskOwner) -> None:
    fwd, _ = _forwarder(tasks, Upstream())
    bob = fwd.attach("bob")
    carol = fwd.attach("carol")
    fwd.detach("bob")
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(bob.recv(), 1)
    fwd.close()
    fwd.close()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(carol.recv(), 1)
    assert fwd.subscriber_pids == []


# --- the subscriber sender's track: sources bound and unbound ---------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _next(track: SenderTrack, timeout: float = 1.0) -> ForwardedFrame:
    return await asyncio.wait_for(track.recv(), timeout)


async def test_sender_track_sends_only_while_bound_and_active() -> None:
    track = SenderTrack("video", "first", 90000)
    source = ForwardedTrack("video", "alice-video-0", 10)
    track.bind(source, "alice-video-0")
    assert track.id == "alice-video-0" and not track.active
    source.offer(ForwardedFrame((b"k",), 1000, keyframe=True))
    with pytest.raises(TimeoutError):
        await _next(track, 0.1)  # bound, not yet accepted by the client
    track.activate()
    frame = await _next(track)
    assert frame.payloads == (b"k",) and frame.timestamp == 1000  # first source: unchanged
    track.unbind()
    source.offer(ForwardedFrame((b"d",), 4000, keyframe=False))
    with pytest.raises(TimeoutError):
        await _next(track, 0.1)


async def test_sender_track_waits_through_a_source_ending_and_takes_the_next() -> None:
    clock = Clock()
    track = SenderTrack("video", "x", 90000, clock=clock)
    first = ForwardedTrack("video", "alice-video-0", 10)
    track.bind(first, "alice-video-0")
    track.activate()
    first.offer(ForwardedFrame((b"a",), 5000, keyframe=True))
    assert (await _next(track)).timestamp == 5000

    pending = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.01)
    first.end()  # the publisher left: the sender keeps waiting, nothing ends
    await asyncio.sleep(0.01)
    assert not pending.done() and track.readyState == "live"

    clock.now += 2.0  # two seconds later, another source (its own timestamps)
    second = ForwardedTrack("video", "carol-video-0", 10)
    track.bind(second, "carol-video-0")
    track.activate()
    second.offer(ForwardedFrame((b"b",), 77, keyframe=True))
    second.offer(ForwardedFrame((b"c",), 77 + 3000, keyframe=False))
    frame = await asyncio.wait_for(pending, 1)
    # rebased: the stream moves on by the time that passed, not back to 77
    assert frame.payloads == (b"b",) and frame.timestamp == 5000 + 2 * 90000
    assert (await _next(track)).timestamp == 5000 + 2 * 90000 + 3000
    assert track.id == "carol-video-0"


async def test_sender_track_drops_frames_of_a_replaced_source() -> None:
    track = SenderTrack("audio", "x", 48000)
    first = ForwardedTrack("audio", "alice-audio-1", 10)
    track.bind(first, "alice-audio-1")
    track.activate()
    first.offer(ForwardedFrame((b"old",), 960, keyframe=True))
    second = ForwardedTrack("audio", "alice-audio-1", 10)
    track.bind(second, "alice-audio-1")  # swapped before the sender read
    track.activate()
    second.offer(ForwardedFrame((b"new",), 50_000, keyframe=True))
    assert (await _next(track)).payloads == (b"new",)


async def test_sender_track_ends_when_stopped() -> None:
    track = SenderTrack("video", "x", 90000)
    track.stop()
    with pytest.raises(MediaStreamError):
        await _next(track)
