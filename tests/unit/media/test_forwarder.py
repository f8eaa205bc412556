"""Per-track fan-out: keyframe gating, mute, congestion, throttled PLIs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from aiortc import RTCRtpSender
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from hearing_server.media.codecs import TrackCodec
from hearing_server.media.forwarder import ForwardedOutput, SenderTrack, TrackForwarder
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
    )
    return fwd, counters


class Sink:
    """What a subscriber's sender received by direct call; ``accept`` False: it refuses."""

    def __init__(self) -> None:
        self.frames: list[ForwardedFrame] = []
        self.accept = True

    def __call__(self, frame: ForwardedFrame) -> bool:
        if self.accept:
            self.frames.append(frame)
        return self.accept


def _connected(output: ForwardedOutput) -> Sink:
    sink = Sink()
    output.connect(sink)
    return sink


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
    output = fwd.attach("bob")
    feed.frame(KEY)  # bob's sender is not connected yet: nothing sent, nothing asked
    await asyncio.sleep(0)
    assert up.plis == []
    bob = _connected(output)  # the sender is ready: ask for a keyframe
    await asyncio.sleep(0.01)
    assert up.plis == [42]
    feed.frame(DELTA)  # not decodable on its own: held back
    feed.frame(KEY)
    feed.frame(DELTA)
    assert [f.keyframe for f in bob.frames] == [True, False]
    assert len(up.plis) <= 2


async def test_received_packets_and_bytes_are_counted_and_subscriptions_known(
    tasks: TaskOwner,
) -> None:
    fwd, counters = _forwarder(tasks, Upstream())
    feed = Feed(fwd)
    feed.frame(KEY)
    feed.frame(DELTA + b"xy")
    assert counters.received_packets == 2
    assert counters.received_bytes == len(KEY) + len(DELTA) + 2
    assert fwd.subscriber_count == 0
    fwd.attach("bob")
    fwd.attach("carol")
    fwd.set_shed("carol", True)  # shed subscribers are still attached
    assert fwd.subscriber_count == 2
    fwd.detach("bob")
    assert fwd.subscriber_count == 1
    fwd.close()
    feed.frame(KEY)  # after close: ignored, not counted
    assert counters.received_packets == 2


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
    _connected(fwd.attach("carol"))  # carol's sender starts after that keyframe
    await asyncio.sleep(0.01)
    assert len(up.plis) == 2  # at once (this also ends the pending trailing request's wait)
    fwd.request_keyframe(new_subscriber=True)  # right after a request: throttled again
    await asyncio.sleep(0)
    assert len(up.plis) == 2
    await asyncio.sleep(0.25)
    assert len(up.plis) == 3 and counters.keyframe_requests_sent_upstream == 3


async def test_a_joining_subscriber_asks_again_on_the_next_frame(tasks: TaskOwner) -> None:
    """Started too soon after the last request for the quarter-window rule, a subscriber
    still waiting for its first frame gets a request through on a later delta frame."""
    up = Upstream()
    fwd, _ = _forwarder(tasks, up, throttle=0.2)
    feed = Feed(fwd)
    feed.frame(DELTA)
    fwd.request_keyframe()
    await asyncio.sleep(0)
    feed.frame(KEY)  # answers it; nobody is connected yet
    dave = _connected(fwd.attach("dave"))
    await asyncio.sleep(0.01)
    assert len(up.plis) == 1  # only 10 ms after the last request: deferred
    await asyncio.sleep(0.05)
    feed.frame(DELTA)  # dave is still waiting for his first frame
    await asyncio.sleep(0)
    assert len(up.plis) == 2
    assert dave.frames == []
    feed.frame(KEY)
    assert [f.keyframe for f in dave.frames] == [True]


async def test_mute_stops_forwarding_and_unmute_waits_for_keyframe(tasks: TaskOwner) -> None:
    up = Upstream()
    fwd, _ = _forwarder(tasks, up)
    feed = Feed(fwd)
    bob = _connected(fwd.attach("bob"))
    feed.frame(KEY)
    fwd.set_enabled(False)
    feed.frame(DELTA)
    fwd.set_enabled(True)
    feed.frame(DELTA)  # not decodable after a gap: dropped
    feed.frame(KEY)
    assert [f.keyframe for f in bob.frames] == [True, True]


async def test_audio_mute(tasks: TaskOwner) -> None:
    fwd, _ = _forwarder(tasks, Upstream(), kind="audio")
    feed = Feed(fwd)
    bob = _connected(fwd.attach("bob"))
    fwd.set_enabled(False)
    feed.frame(b"muted")
    fwd.set_enabled(True)
    feed.frame(b"spoken")
    assert [f.payloads for f in bob.frames] == [(b"spoken",)]


async def test_a_refused_frame_restarts_the_subscriber_on_a_keyframe(tasks: TaskOwner) -> None:
    up = Upstream()
    fwd, counters = _forwarder(tasks, up)
    feed = Feed(fwd)
    bob = _connected(fwd.attach("bob"))
    feed.frame(KEY)
    bob.accept = False
    feed.frame(DELTA)  # the sender could not send it: wait for a keyframe
    assert counters.dropped_frames == 1
    bob.accept = True
    feed.frame(DELTA)
    feed.frame(KEY)
    assert [f.keyframe for f in bob.frames] == [True, True]


async def test_not_yet_connected_subscriber_gets_no_backlog(tasks: TaskOwner) -> None:
    fwd, _ = _forwarder(tasks, Upstream(), kind="audio")
    feed = Feed(fwd)
    output = fwd.attach("bob")
    for _ in range(5):
        feed.frame(b"old")
    bob = _connected(output)
    feed.frame(b"new")
    assert [f.payloads for f in bob.frames] == [(b"new",)]


async def test_shed_subscriber_gets_nothing_and_resumes_on_a_keyframe(tasks: TaskOwner) -> None:
    up = Upstream()
    fwd, _ = _forwarder(tasks, up, throttle=0.0)
    feed = Feed(fwd)
    bob = _connected(fwd.attach("bob"))
    feed.frame(KEY)
    fwd.set_shed("bob", True)
    feed.frame(DELTA)
    fwd.set_shed("bob", False)
    feed.frame(DELTA)
    feed.frame(KEY)
    assert [f.keyframe for f in bob.frames] == [True, True]


async def test_detach_and_close_end_the_outputs(tasks: TaskOwner) -> None:
    fwd, _ = _forwarder(tasks, Upstream(), kind="audio")
    feed = Feed(fwd)
    bob_out = fwd.attach("bob")
    carol_out = fwd.attach("carol")
    bob, carol = _connected(bob_out), _connected(carol_out)
    fwd.detach("bob")
    feed.frame(b"one")
    assert bob_out.ended and bob.frames == [] and len(carol.frames) == 1
    fwd.close()
    fwd.close()
    feed.frame(b"two")
    assert carol_out.ended and len(carol.frames) == 1
    carol_out.connect(Sink())  # an ended output stays ended
    assert not carol_out.connected
    assert fwd.subscriber_pids == []


# --- the subscriber sender's track: outputs bound and unbound ---------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Sent:
    """Stands in for the socket-level DirectSender (tested with real peers in
    test_aiortc_hooks.py): records what the track hands it."""

    def __init__(self, ready: bool = True) -> None:
        self.ready = ready
        self.closed = False
        self.frames: list[tuple[tuple[bytes, ...], int]] = []
        self.limit: int | None = None  # packets a send gets out before its transport fails

    def send(self, payloads: Sequence[bytes], timestamp: int) -> int:
        self.frames.append((tuple(payloads), timestamp))
        return len(payloads) if self.limit is None else min(self.limit, len(payloads))


def _sender_track(kind: str = "video", clock: Clock | None = None) -> tuple[SenderTrack, Sent]:
    counters = MediaCounters()
    rate = 90000 if kind == "video" else 48000
    track = SenderTrack(
        "video" if kind == "video" else "audio", "x", rate, counters, clock=clock or Clock()
    )
    sent = Sent()
    track.use_sender(sent)
    return track, sent


async def test_sender_track_sends_only_while_bound_active_and_ready() -> None:
    track, sent = _sender_track()
    sent.ready = False
    source = ForwardedOutput("video", "alice-video-0")
    track.bind(source, "alice-video-0")
    assert track.id == "alice-video-0" and not track.active
    assert not source.offer(ForwardedFrame((b"k",), 1000, keyframe=True))  # not accepted yet
    track.activate()
    assert not source.connected  # the sender has not started
    sent.ready = True
    track.sender_ready()
    assert source.offer(ForwardedFrame((b"k",), 1000, keyframe=True))
    assert sent.frames == [((b"k",), 1000)]  # first source: timestamps unchanged
    track.unbind()
    assert not source.offer(ForwardedFrame((b"d",), 4000, keyframe=False))
    assert len(sent.frames) == 1


async def test_sender_track_rebases_the_next_source_on_the_wall_clock() -> None:
    clock = Clock()
    track, sent = _sender_track(clock=clock)
    first = ForwardedOutput("video", "alice-video-0")
    track.bind(first, "alice-video-0")
    track.activate()
    first.offer(ForwardedFrame((b"a",), 5000, keyframe=True))
    first.end()  # the publisher left: the track stays live
    assert track.readyState == "live"

    clock.now += 2.0  # two seconds later, another source (its own timestamps)
    second = ForwardedOutput("video", "carol-video-0")
    track.bind(second, "carol-video-0")
    track.activate()
    second.offer(ForwardedFrame((b"b",), 77, keyframe=True))
    second.offer(ForwardedFrame((b"c",), 77 + 3000, keyframe=False))
    # rebased: the stream moves on by the time that passed, not back to 77
    assert [ts for _, ts in sent.frames] == [5000, 5000 + 2 * 90000, 5000 + 2 * 90000 + 3000]
    assert track.id == "carol-video-0"


async def test_sender_track_takes_nothing_from_a_replaced_source() -> None:
    track, sent = _sender_track("audio")
    first = ForwardedOutput("audio", "alice-audio-1")
    track.bind(first, "alice-audio-1")
    track.activate()
    second = ForwardedOutput("audio", "alice-audio-1")
    track.bind(second, "alice-audio-1")
    track.activate()
    assert not first.offer(ForwardedFrame((b"old",), 960, keyframe=True))
    assert second.offer(ForwardedFrame((b"new",), 50_000, keyframe=True))
    assert [p for p, _ in sent.frames] == [(b"new",)]


async def test_sender_track_counts_what_it_forwards_and_stops() -> None:
    counters = MediaCounters()
    track = SenderTrack("video", "x", 90000, counters)
    sent = Sent()
    track.use_sender(sent)
    source = ForwardedOutput("video", "alice-video-0")
    track.bind(source, "alice-video-0")
    track.activate()
    source.offer(ForwardedFrame((b"1", b"2", b"3"), 0, keyframe=True))
    assert counters.forwarded_frames == 1 and counters.forwarded_packets == 3
    sent.limit = 1  # the transport failed after the first packet: only it counts
    source.offer(ForwardedFrame((b"4444", b"55555"), 3000, keyframe=False))
    assert counters.forwarded_frames == 2 and counters.forwarded_packets == 4
    sent.closed = True
    assert not source.offer(ForwardedFrame((b"4",), 6000, keyframe=False))
    track.stop()
    assert not source.connected and track.readyState == "ended"
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_an_unanswered_request_is_sent_again_while_someone_waits(
    tasks: TaskOwner,
) -> None:
    """On a bad line the PLI, or the keyframe answering it, may be lost: while a subscriber
    still waits for a keyframe the request goes again after the retry interval, and no
    more once a keyframe came."""
    up = Upstream()
    counters = MediaCounters()
    fwd = TrackForwarder(
        publisher_pid="alice",
        track_id="alice-video-0",
        codec=_codec("video", "video/VP8"),
        counters=counters,
        tasks=tasks,
        send_pli=up.send,
        keyframe_throttle_s=0.02,
        gap_timeout_s=0.5,
        keyframe_retry_s=0.1,
    )
    feed = Feed(fwd)
    feed.frame(KEY)
    bob = _connected(fwd.attach("bob"))
    await asyncio.sleep(0.01)
    start = len(up.plis)  # bob's own first request
    assert start == 1
    await asyncio.sleep(0.35)  # nothing answers: asked again about every 0.1 s
    assert 3 <= len(up.plis) - start <= 4, up.plis
    assert counters.keyframe_requests_retried == len(up.plis) - start
    feed.frame(KEY)
    asked = len(up.plis)
    await asyncio.sleep(0.3)
    assert len(up.plis) == asked  # answered: no more
    assert [f.keyframe for f in bob.frames] == [True]
