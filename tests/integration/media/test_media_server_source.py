"""Server sources: tracks the server publishes from frames it encoded itself (the
courtroom composite), received by real aiortc subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import re
import time
from array import array
from collections.abc import AsyncIterator
from typing import Any

import av
import pytest
from media_clients import TONES, MediaHarness

from hearing_server.media import MediaError, SubscriberOffer, TrackPublished, TrackUnpublished
from hearing_server.media.taps import EncodedFrame, ServerSource
from support.media import close_colour
from support.waiting import wait_until

pytestmark = pytest.mark.media

SOURCE = "composite-5e1f"
COLOUR = (200, 60, 160)
TONE = TONES["dave"]
WIDTH, HEIGHT, FPS = 320, 240, 15


class VideoEncoder:
    """Encodes solid-colour frames live with PyAV and pushes them; a keyframe whenever the
    source asks for one (and only then, after the first: a long GOP)."""

    def __init__(self, source: ServerSource, codec: str) -> None:
        self.source = source
        self.codec = codec
        self.mime = f"video/{codec}"
        ctx: Any = av.CodecContext.create("libx264" if codec == "H264" else "libvpx", "w")
        ctx.width, ctx.height, ctx.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        ctx.time_base = fractions.Fraction(1, FPS)
        ctx.framerate = FPS
        ctx.bit_rate = 400_000
        ctx.gop_size = 100_000
        if codec == "H264":
            ctx.options = {
                "profile": "baseline",
                "preset": "ultrafast",
                "tune": "zerolatency",
                "level": "31",
            }
        else:
            ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        self.ctx = ctx
        rgb = av.VideoFrame(WIDTH, HEIGHT, "rgb24")
        rgb.planes[0].update(bytes(COLOUR) * (WIDTH * HEIGHT))
        self.picture = rgb.reformat(format="yuv420p")
        self.keyframes = 0
        self.frames = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        start = time.monotonic()
        while True:
            frame = self.picture.reformat()  # a copy
            frame.pts = self.frames
            frame.time_base = self.ctx.time_base
            if self.frames == 0 or self.source.keyframe_requested.is_set():
                frame.pict_type = av.video.frame.PictureType.I
            for packet in self.ctx.encode(frame):
                self.keyframes += packet.is_keyframe
                self.source.push(
                    EncodedFrame(
                        pid=SOURCE,
                        track_id=self.source.track_id,
                        kind="video",
                        codec=self.mime,
                        payload=bytes(packet),
                        rtp_timestamp=self.frames * (90000 // FPS),
                        clock_rate=90000,
                        keyframe=packet.is_keyframe,
                        arrival=time.monotonic(),
                    )
                )
            self.frames += 1
            await asyncio.sleep(max(0.0, start + self.frames / FPS - time.monotonic()))

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class AudioEncoder:
    """A tone, encoded live with PyAV's libopus, 20 ms per packet."""

    def __init__(self, source: ServerSource) -> None:
        self.source = source
        ctx: Any = av.CodecContext.create("libopus", "w")
        ctx.sample_rate = 48000
        ctx.layout = "mono"
        ctx.format = "s16"
        ctx.bit_rate = 64000
        ctx.time_base = fractions.Fraction(1, 48000)
        self.ctx = ctx
        self.packets = 0
        self.table = array(
            "h", (int(8000 * math.sin(2 * math.pi * TONE * i / 48000)) for i in range(48000 + 960))
        )
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        start = time.monotonic()
        n = 0
        while True:
            offset = (n * 960) % 48000
            frame = av.AudioFrame(format="s16", layout="mono", samples=960)
            frame.planes[0].update(self.table[offset : offset + 960].tobytes())
            frame.sample_rate = 48000
            frame.pts = n * 960
            frame.time_base = self.ctx.time_base
            for packet in self.ctx.encode(frame):
                self.source.push(
                    EncodedFrame(
                        pid=SOURCE,
                        track_id=self.source.track_id,
                        kind="audio",
                        codec="audio/opus",
                        payload=bytes(packet),
                        rtp_timestamp=self.packets * 960,
                        clock_rate=48000,
                        keyframe=True,
                        arrival=time.monotonic(),
                    )
                )
                self.packets += 1
            n += 1
            await asyncio.sleep(max(0.0, start + n * 0.02 - time.monotonic()))

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def encoders() -> AsyncIterator[list[VideoEncoder | AudioEncoder]]:
    made: list[VideoEncoder | AudioEncoder] = []
    yield made
    for e in made:
        await e.stop()


def _source_ok(h: MediaHarness, pid: str, video_id: str, audio_id: str | None) -> bool:
    client = h.clients[pid]
    video = client.received.get(video_id)
    if video is None or video.ended or video.frames < 10 or not close_colour(video.colour, COLOUR):
        return False
    if audio_id is None:
        return True
    audio = client.received.get(audio_id)
    return (
        audio is not None and not audio.ended and audio.dominant_tone(list(TONES.values())) == TONE
    )


def _gone(track: Any) -> bool:
    """The track ended (RTCP BYE) or was negotiated away; a starved test process can lose
    the BYE datagram (asyncio reads one datagram per loop iteration)."""
    return bool(
        track.ended or (track.transceiver and track.transceiver.currentDirection == "inactive")
    )


def _describe(h: MediaHarness) -> str:
    return (
        "; ".join(
            f"{pid}: "
            + ", ".join(
                f"{t.track_id}={t.frames}:{t.colour}{'(ended)' if t.ended else ''}"
                for t in c.received.values()
            )
            for pid, c in h.clients.items()
        )
        + f" stats={h.router.stats()}"
    )


@pytest.mark.parametrize("codec", ["H264", "VP8"])
async def test_subscribers_receive_a_server_source(
    harness: MediaHarness, encoders: list[VideoEncoder | AudioEncoder], codec: str
) -> None:
    h = harness
    video = h.router.add_server_source(SOURCE, "video", codec)
    audio = h.router.add_server_source(SOURCE, "audio", "opus")
    venc, aenc = VideoEncoder(video, codec), AudioEncoder(audio)
    encoders += [venc, aenc]
    tap = h.router.open_encoded_tap(SOURCE, "video")
    await h.client("alice").publish()
    bob = h.client("bob")
    h.router.set_routes("bob", {SOURCE, "alice"})
    await wait_until(
        lambda: _source_ok(h, "bob", video.track_id, audio.track_id),
        20,
        "bob to decode the source's colour and tone",
        lambda: _describe(h),
    )
    published = {
        (e.pid, e.kind, e.track_id, e.codec) for e in h.events if isinstance(e, TrackPublished)
    }
    assert (SOURCE, "video", video.track_id, f"video/{codec}") in published
    assert (SOURCE, "audio", audio.track_id, "audio/opus") in published
    assert {e.track_id for e in h.router.published_tracks(SOURCE)} == {
        video.track_id,
        audio.track_id,
    }
    offer = [e for e in h.events if isinstance(e, SubscriberOffer) and e.pid == "bob"][-1]
    assert re.search(rf"a=msid:{SOURCE} {video.track_id}\r?$", offer.sdp, re.M)
    assert re.search(rf"a=msid:{SOURCE} {audio.track_id}\r?$", offer.sdp, re.M)
    # bob joined after the first keyframe: the source was asked for another one
    assert venc.keyframes >= 2
    alice_video = h.tracks_of("alice", "video")[0]
    await wait_until(
        lambda: alice_video in bob.received and bob.received[alice_video].frames > 0,
        10,
        "alice's video next to the source",
    )

    # the source can be tapped like a participant's track (the composite recording)
    frames = [await asyncio.wait_for(anext(tap), 5) for _ in range(5)]
    assert {(f.pid, f.track_id, f.codec) for f in frames} == {
        (SOURCE, video.track_id, f"video/{codec}")
    }
    stats = h.router.stats()
    assert stats["server_sources"] == 2
    assert stats["decoded_frames"] == 0 and stats["encoded_frames"] == 0

    await video.close()
    await audio.close()
    await video.close()  # idempotent
    await wait_until(
        lambda: (
            {video.track_id, audio.track_id}
            <= {e.track_id for e in h.events if isinstance(e, TrackUnpublished)}
        ),
        5,
        "TrackUnpublished for both sources",
    )
    await wait_until(
        lambda: _gone(bob.received[video.track_id]) and _gone(bob.received[audio.track_id]),
        15,
        "the source to leave bob's connection",
        lambda: _describe(h),
    )
    with pytest.raises(StopAsyncIteration):
        while True:
            await asyncio.wait_for(anext(tap), 5)
    assert h.router.stats()["server_sources"] == 0
    video.push(frames[0])  # ignored after close


async def test_keyframe_requests_reach_the_source(
    harness: MediaHarness, encoders: list[VideoEncoder | AudioEncoder]
) -> None:
    h = harness
    requests: list[float] = []
    source = h.router.add_server_source(
        SOURCE, "video", "VP8", on_keyframe_request=lambda: requests.append(time.monotonic())
    )
    venc = VideoEncoder(source, "VP8")
    encoders.append(venc)
    bob = h.client("bob")
    h.router.set_routes("bob", {SOURCE})
    await wait_until(
        lambda: _source_ok(h, "bob", source.track_id, None), 20, "bob to get the source"
    )
    await asyncio.sleep(0.3)
    assert requests, "the new subscriber's keyframe request reached the callback"
    asked, keyframes = len(requests), venc.keyframes
    assert not source.keyframe_requested.is_set()  # the keyframe pushed cleared it

    receiver = bob.receiver_for(source.track_id)
    ssrc = receiver.getSynchronizationSources()[0].source
    await receiver._send_rtcp_pli(ssrc)
    await wait_until(lambda: len(requests) > asked, 5, "bob's PLI at the source")
    await wait_until(lambda: venc.keyframes > keyframes, 5, "the encoder to answer it")
    assert h.router.stats()["keyframe_requests_received"] >= 1

    # the recorder can ask too (a new segment starts on a keyframe)
    asked = len(requests)
    h.router.request_keyframe(SOURCE)
    assert len(requests) == asked + 1 and source.keyframe_requested.is_set()
    assert h.router.published_kinds(SOURCE) == {"video"}


async def test_server_source_ids_and_codecs_are_checked(harness: MediaHarness) -> None:
    h = harness
    await h.client("alice").publish(video=False)
    cases: list[tuple[Any, str]] = [
        (lambda: h.router.add_server_source("alice", "video", "VP8"), "participant_id_in_use"),
        (lambda: h.router.add_server_source("bad id", "video", "VP8"), "invalid_participant_id"),
        (lambda: h.router.add_server_source(SOURCE, "video", "AV1"), "unsupported_codec"),
        (lambda: h.router.add_server_source(SOURCE, "audio", "VP8"), "unsupported_codec"),
    ]
    for call, code in cases:
        with pytest.raises(MediaError) as info:
            call()
        assert info.value.code == code

    source = h.router.add_server_source(SOURCE, "audio", "audio/opus")
    with pytest.raises(MediaError) as info:
        await h.router.publish(SOURCE, "v=0\r\n")
    assert info.value.code == "participant_id_in_use"
    wrong = EncodedFrame(SOURCE, source.track_id, "video", "video/VP8", b"x", 0, 90000, True, 0.0)
    with pytest.raises(MediaError) as info:
        source.push(wrong)
    assert info.value.code == "invalid_argument"

    # remove() takes a server source's tracks away like a participant's
    await h.router.remove(SOURCE)
    await wait_until(
        lambda: any(
            isinstance(e, TrackUnpublished) and e.track_id == source.track_id for e in h.events
        ),
        5,
        "TrackUnpublished for the source",
    )
    assert source.closed  # type: ignore[attr-defined]
    assert h.router.published_tracks(SOURCE) == []
