"""Taps on real publishers: encoded frames as forwarded, decoded frames on demand."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import itertools
import threading
from array import array
from collections.abc import AsyncIterator
from typing import Any

import av
import pytest
from media_clients import COLOURS, TONES, MediaHarness

from hearing_server.media import MediaError
from hearing_server.media.taps import DecodedFrame, EncodedFrame, Tap
from support.media import FPS, close_colour, goertzel_power, mean_left_colour
from support.waiting import wait_until

pytestmark = pytest.mark.media

VIDEO_STEP = 90000 // FPS  # RTP ticks between the test clients' video frames
AUDIO_STEP = 960  # 20 ms Opus packets


class Collector:
    """Reads a tap in the background, keeping what it got."""

    def __init__(self, tap: Tap[Any]) -> None:
        self.tap = tap
        self.items: list[Any] = []
        self.ended = False
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for item in self.tap:
            self.items.append(item)
        self.ended = True

    async def stop(self) -> None:
        self.tap.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@pytest.fixture
async def collectors() -> AsyncIterator[list[Collector]]:
    made: list[Collector] = []
    yield made
    for c in made:
        await c.stop()


def _decoder_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("tap-decoder:")]


def _decode_all(codec: str, frames: list[EncodedFrame]) -> list[av.frame.Frame]:
    """Decode with PyAV from the first keyframe on; every frame must decode."""
    name = {"video/VP8": "libvpx", "video/H264": "h264", "audio/opus": "libopus"}[codec]
    ctx: Any = av.CodecContext.create(name, "r")
    start = next(i for i, f in enumerate(frames) if f.keyframe)
    out: list[av.frame.Frame] = []
    for f in frames[start:]:
        packet = av.Packet(f.payload)
        packet.pts = f.rtp_timestamp
        packet.time_base = fractions.Fraction(1, f.clock_rate)
        out.extend(ctx.decode(packet))
    return out


def _steps(frames: list[EncodedFrame]) -> set[int]:
    return {b.rtp_timestamp - a.rtp_timestamp for a, b in itertools.pairwise(frames)}


def _left_pcm(frame: av.AudioFrame) -> list[int]:
    channels = len(frame.layout.channels)
    pcm = array("h", bytes(frame.planes[0]))[: frame.samples * channels]
    return list(pcm[::channels])


def _tone(samples: list[int]) -> float:
    return max(TONES.values(), key=lambda f: goertzel_power(samples[-4800:], f))


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_encoded_taps_get_every_frame_and_pyav_decodes_them(
    harness: MediaHarness, collectors: list[Collector], codec: str
) -> None:
    h = harness
    alice = h.client("alice", video_codec=codec)
    await alice.publish()
    video = Collector(h.router.open_encoded_tap("alice", "video"))
    audio = Collector(h.router.open_encoded_tap("alice", "audio"))
    collectors += [video, audio]
    await wait_until(
        lambda: len(video.items) >= 3 * FPS and len(audio.items) >= 150,
        20,
        "3 s of alice's frames on the taps",
        lambda: f"{len(video.items)} video, {len(audio.items)} audio, {h.router.stats()}",
    )
    vframes: list[EncodedFrame] = list(video.items)
    aframes: list[EncodedFrame] = list(audio.items)

    assert {f.codec for f in vframes} == {f"video/{codec}"}
    assert {f.codec for f in aframes} == {"audio/opus"}
    assert {(f.pid, f.kind, f.clock_rate) for f in vframes} == {("alice", "video", 90000)}
    assert {(f.pid, f.kind, f.clock_rate) for f in aframes} == {("alice", "audio", 48000)}
    assert {f.track_id for f in vframes} == set(h.tracks_of("alice", "video"))
    # every frame the publisher sent, once, in order: its clock advanced one step per frame
    # (aiortc's sender rounds the 90 kHz timestamps of the test track to +-1 tick)
    assert _steps(vframes) <= {VIDEO_STEP - 1, VIDEO_STEP, VIDEO_STEP + 1}
    assert _steps(aframes) == {AUDIO_STEP}
    assert all(b.arrival >= a.arrival for a, b in itertools.pairwise(vframes))
    assert video.tap.dropped == 0 and audio.tap.dropped == 0
    assert any(f.keyframe for f in vframes)

    pictures = _decode_all(f"video/{codec}", vframes)
    first_key = next(i for i, f in enumerate(vframes) if f.keyframe)
    assert len(pictures) >= len(vframes) - first_key - 1  # the decoder may hold one back
    assert close_colour(mean_left_colour(pictures[-1]), COLOURS["alice"])
    assert pictures[-1].pts == vframes[len(pictures) + first_key - 1].rtp_timestamp

    sound = _decode_all("audio/opus", aframes)
    assert len(sound) == len(aframes)
    samples = [s for frame in sound for s in _left_pcm(frame)]
    assert _tone(samples) == TONES["alice"]

    stats = h.router.stats()
    assert stats["decoded_frames"] == 0 and stats["tap_decoded_frames"] == 0
    assert stats["active_decoders"] == 0 and not _decoder_threads()


async def test_decoded_taps_give_the_senders_colour_and_tone(
    harness: MediaHarness, collectors: list[Collector]
) -> None:
    h = harness
    await h.client("alice").publish()
    video = Collector(h.router.open_decoded_tap("alice", "video"))
    audio = Collector(h.router.open_decoded_tap("alice", "audio"))
    collectors += [video, audio]
    await wait_until(
        lambda: len(video.items) >= 2 * FPS and len(audio.items) >= 100,
        20,
        "decoded frames from alice",
        lambda: f"{len(video.items)} video, {len(audio.items)} audio, {h.router.stats()}",
    )
    frames: list[DecodedFrame] = list(video.items)
    assert all(isinstance(f, av.VideoFrame) for f in frames)
    assert close_colour(mean_left_colour(frames[-1]), COLOURS["alice"])
    assert {f.time_base for f in frames} == {fractions.Fraction(1, 90000)}
    steps = {b.pts - a.pts for a, b in itertools.pairwise(frames)}
    assert steps <= {VIDEO_STEP - 1, VIDEO_STEP, VIDEO_STEP + 1}

    sounds: list[av.AudioFrame] = list(audio.items)
    assert {(f.sample_rate, f.time_base) for f in sounds} == {(48000, fractions.Fraction(1, 48000))}
    assert {b.pts - a.pts for a, b in itertools.pairwise(sounds)} == {AUDIO_STEP}
    samples = [s for frame in sounds for s in _left_pcm(frame)]
    assert _tone(samples) == TONES["alice"]

    stats = h.router.stats()
    assert stats["tap_decoded_frames"] >= len(frames) + len(sounds)
    assert stats["active_decoders"] == 2
    assert stats["decoded_frames"] == 0 and stats["encoded_frames"] == 0


async def test_decoding_happens_only_while_a_decoded_tap_is_open(
    harness: MediaHarness, collectors: list[Collector]
) -> None:
    h = harness
    alice, bob = h.client("alice"), h.client("bob")
    await alice.publish()
    h.router.set_routes("bob", {"alice"})
    video_id = h.tracks_of("alice", "video")[0]
    await wait_until(
        lambda: video_id in bob.received and bob.received[video_id].frames >= 10,
        15,
        "alice's video at bob",
    )
    encoded = Collector(h.router.open_encoded_tap("alice", "video"))
    collectors.append(encoded)
    await asyncio.sleep(1.0)
    stats = h.router.stats()
    assert len(encoded.items) > 0
    assert stats["tap_decoded_frames"] == 0, "nothing is decoded without a decoded tap"
    assert stats["active_decoders"] == 0 and not _decoder_threads()

    assert h.router.published_kinds("alice") == {"audio", "video"}
    requests_before = alice.publisher_keyframe_requests
    first = Collector(h.router.open_decoded_tap("alice", "video"))
    second = Collector(h.router.open_decoded_tap("alice", "video"))
    collectors += [first, second]
    assert h.router.stats()["active_decoders"] == 1
    assert [t.name for t in _decoder_threads()] == [f"tap-decoder:{video_id}"]
    await wait_until(
        lambda: len(first.items) >= 10 and len(second.items) >= 10,
        15,
        "both decoded taps to get frames",
        lambda: f"{len(first.items)}, {len(second.items)} {h.router.stats()}",
    )
    # one decoder, its output shared: the very same frame objects
    assert first.items[0] is second.items[0]
    assert alice.publisher_keyframe_requests > requests_before, "decoder start asks for a key"

    first.tap.close()
    assert h.router.stats()["active_decoders"] == 1
    second.tap.close()
    assert h.router.stats()["active_decoders"] == 0
    await wait_until(lambda: not _decoder_threads(), 10, "the decoder thread to end")
    decoded = h.router.stats()["tap_decoded_frames"]
    received = bob.received[video_id].frames
    await asyncio.sleep(0.6)
    assert h.router.stats()["tap_decoded_frames"] == decoded
    assert bob.received[video_id].frames > received  # forwarding went on throughout
    assert h.router.stats()["decoded_frames"] == 0

    # and decoding starts again on demand
    again = Collector(h.router.open_decoded_tap("alice", "video"))
    collectors.append(again)
    await wait_until(lambda: len(again.items) >= 5, 15, "a new decoder's frames")
    assert close_colour(mean_left_colour(again.items[-1]), COLOURS["alice"])


async def test_a_slow_tap_drops_and_counts_without_slowing_forwarding(
    harness: MediaHarness,
) -> None:
    h = harness
    alice, bob = h.client("alice"), h.client("bob")
    await alice.publish()
    h.router.set_routes("bob", {"alice"})
    video_id = h.tracks_of("alice", "video")[0]
    await wait_until(
        lambda: video_id in bob.received and bob.received[video_id].frames >= 10,
        15,
        "alice's video at bob",
    )
    # never read
    stuck_encoded = h.router.open_encoded_tap("alice", "video", max_queued=5)
    stuck_decoded = h.router.open_decoded_tap("alice", "video", max_queued=3)
    stuck_audio = h.router.open_encoded_tap("alice", "audio", max_queued=5)
    try:
        # bob keeps receiving every frame alice sends (measured against alice's own count,
        # so a machine slowed by other work slows both sides alike)
        camera = next(
            s.track for s in alice.pub_pc.getSenders() if s.track and s.track.kind == "video"
        )
        sent0, got0 = camera._count, bob.received[video_id].frames
        await asyncio.sleep(3.0)
        sent = camera._count - sent0
        got = bob.received[video_id].frames - got0
        assert sent >= 10 and got >= 0.8 * sent - 3, f"alice sent {sent} frames, bob got {got}"
        assert stuck_encoded.dropped > 0 and stuck_decoded.dropped > 0
        assert stuck_audio.dropped > 100
        stats = h.router.stats()
        assert stats["tap_dropped_frames"] >= (
            stuck_encoded.dropped + stuck_decoded.dropped + stuck_audio.dropped
        )
        assert stats["dropped_frames"] == 0

        # what was queued is still there, then the tap resumes on a keyframe
        frames = [await asyncio.wait_for(anext(stuck_encoded), 5) for _ in range(5)]
        assert [f.rtp_timestamp for f in frames] == sorted(f.rtp_timestamp for f in frames)
        resumed = await asyncio.wait_for(anext(stuck_encoded), 10)
        assert resumed.keyframe and resumed.rtp_timestamp > frames[-1].rtp_timestamp
    finally:
        for tap in (stuck_encoded, stuck_decoded, stuck_audio):
            tap.close()


async def test_taps_end_when_the_track_is_unpublished(
    harness: MediaHarness, collectors: list[Collector]
) -> None:
    h = harness
    await h.client("alice").publish()
    await h.client("bob").publish()
    taps = [
        Collector(h.router.open_encoded_tap("alice", "video")),
        Collector(h.router.open_decoded_tap("alice", "video")),
        Collector(h.router.open_decoded_tap("alice", "audio")),
    ]
    bobs = Collector(h.router.open_decoded_tap("bob", "audio"))
    collectors += [*taps, bobs]
    await wait_until(
        lambda: all(len(c.items) >= 5 for c in [*taps, bobs]), 15, "frames on every tap"
    )
    assert h.router.stats()["active_decoders"] == 3

    await h.router.remove("alice")
    await wait_until(lambda: all(c.ended for c in taps), 10, "alice's taps to end")
    assert not bobs.ended
    assert h.router.stats()["active_decoders"] == 1
    await wait_until(lambda: len(_decoder_threads()) == 1, 10, "alice's decoder threads to end")
    with pytest.raises(MediaError) as info:
        h.router.open_encoded_tap("alice", "video")
    assert info.value.code == "unknown_track"

    await h.router.close()  # the router closing ends every tap and joins the decoders
    await wait_until(lambda: bobs.ended, 5, "bob's tap to end")
    assert not _decoder_threads()
    assert h.router.stats()["active_decoders"] == 0


async def test_bad_tap_requests_are_refused(harness: MediaHarness) -> None:
    h = harness
    await h.client("alice").publish(video=False)
    assert h.router.published_kinds("alice") == {"audio"}
    assert h.router.published_kinds("nobody") == set()
    h.router.request_keyframe("nobody")  # ignored
    h.router.request_keyframe("alice")  # no video: nothing to ask
    for call, code in [
        (lambda: h.router.open_encoded_tap("alice", "video"), "unknown_track"),
        (lambda: h.router.open_decoded_tap("nobody", "audio"), "unknown_track"),
        (lambda: h.router.open_encoded_tap("alice", "data"), "invalid_argument"),  # type: ignore[arg-type]
        (lambda: h.router.open_encoded_tap("alice", "audio", max_queued=0), "invalid_argument"),
        (lambda: h.router.open_decoded_tap("al ice", "audio"), "invalid_participant_id"),
    ]:
        with pytest.raises(MediaError) as info:
            call()
        assert info.value.code == code
