"""Taps without a network: frames in through a forwarder's RTP entry point, out through
encoded and decoded taps; the pieces (queues, timestamp unwrapping, packetizing)."""

from __future__ import annotations

import asyncio
import fractions
import os
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import av
import pytest
from aiortc import RTCRtpSender
from aiortc.rtp import RtpPacket

from hearing_server.media.codecs import TrackCodec
from hearing_server.media.encoded import Packetizer, TimestampUnwrapper, depayloader
from hearing_server.media.forwarder import TrackForwarder
from hearing_server.media.stats import MediaCounters
from hearing_server.media.taps import EncodedFrame
from hearing_server.media.taps_impl import DecoderRegistry, FrameTap
from hearing_server.media.tasks import TaskOwner
from support.waiting import wait_until

W, H = 320, 240


def _codec(kind: str, mime: str) -> TrackCodec:
    cap = next(c for c in RTCRtpSender.getCapabilities(kind).codecs if c.mimeType == mime)
    return TrackCodec(kind="video" if kind == "video" else "audio", capability=cap, rtx=None)


def _vp8_frames(count: int, colour: tuple[int, int, int] = (30, 160, 200)) -> list[bytes]:
    """``count`` VP8 frames (the first a keyframe) of a colour with a noisy band."""
    ctx: Any = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = W, H, "yuv420p"
    ctx.time_base = fractions.Fraction(1, 15)
    ctx.bit_rate = 2_000_000
    ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[bytes] = []
    for i in range(count):
        rgb = bytearray(bytes(colour) * (W * H))
        rgb[-W * 3 * 40 :] = os.urandom(W * 3 * 40)
        frame = av.VideoFrame(W, H, "rgb24")
        frame.planes[0].update(bytes(rgb))
        frame = frame.reformat(format="yuv420p")
        frame.pts = i
        frame.time_base = ctx.time_base
        out.extend(bytes(p) for p in ctx.encode(frame))
    return out


class Upstream:
    def __init__(self) -> None:
        self.plis: list[int] = []

    async def send(self, ssrc: int) -> None:
        self.plis.append(ssrc)


class Publisher:
    """Feeds encoded frames into a forwarder as the RTP packets a publisher would send."""

    def __init__(self, fwd: TrackForwarder, codec: str, clock_rate: int) -> None:
        self.fwd = fwd
        self.packetizer = Packetizer(codec, clock_rate)
        self.seq = 65000
        self.ts = (1 << 32) - 10_000  # wraps after a few frames
        self.step = 6000 if clock_rate == 90000 else 960

    def send(self, payload: bytes, keyframe: bool = False) -> None:
        frame = self.packetizer.packetize(payload, self.ts, keyframe)
        for i, p in enumerate(frame.payloads):
            packet = RtpPacket(
                payload_type=97,
                sequence_number=self.seq,
                timestamp=frame.timestamp,
                ssrc=1234,
                marker=int(i == len(frame.payloads) - 1),
            )
            packet.payload = p
            self.fwd.on_rtp(packet)
            self.seq = (self.seq + 1) % 65536
        self.ts = (self.ts + self.step) % (1 << 32)


@pytest.fixture
async def tasks() -> AsyncIterator[TaskOwner]:
    owner = TaskOwner("test")
    yield owner
    await owner.close()


def _forwarder(
    tasks: TaskOwner, upstream: Upstream, kind: str = "video", mime: str = "video/VP8"
) -> tuple[TrackForwarder, MediaCounters, DecoderRegistry]:
    counters = MediaCounters()
    registry = DecoderRegistry()
    fwd = TrackForwarder(
        publisher_pid="alice",
        track_id=f"alice-{kind}-0",
        codec=_codec(kind, mime),
        counters=counters,
        tasks=tasks,
        send_pli=upstream.send,
        keyframe_throttle_s=0.0,
        gap_timeout_s=0.5,
        decoders=registry,
    )
    return fwd, counters, registry


async def _next(tap: Any, timeout: float = 5.0) -> Any:
    return await asyncio.wait_for(anext(tap), timeout)


# --- pieces ---------------------------------------------------------------------------


def test_unwrapper_crosses_the_32_bit_wrap_and_rebases_new_streams() -> None:
    u = TimestampUnwrapper(90000)
    near = (1 << 32) - 3000
    assert u.unwrap(near, 0.0) == near
    assert u.unwrap(3000, 0.066) == near + 6000
    assert u.unwrap(9000, 0.1) == near + 12000
    u.restart()  # a new SSRC with an unrelated timestamp, 1 s later
    assert u.unwrap(123, 1.1) == near + 12000 + 90000
    assert u.unwrap(6123, 1.166) == near + 12000 + 96000
    before = u.unwrap(12123, 1.2)
    assert u.unwrap(5, 1.3) > before  # a step backwards never goes back


def test_packetizer_and_depayloader_round_trip() -> None:
    vp8 = _vp8_frames(2)
    packer = Packetizer("VP8", 90000)
    frame = packer.packetize(vp8[0], (1 << 32) + 500, True)
    assert len(frame.payloads) > 1 and frame.timestamp == 500 and frame.keyframe
    assert depayloader("VP8")(frame.payloads) == vp8[0]

    sps_pps_idr = (
        b"\x00\x00\x00\x01\x67\x42\xe0\x1f\xaa"
        + b"\x00\x00\x00\x01\x68\xce\x3c\x80"
        + b"\x00\x00\x00\x01\x65"
        + os.urandom(3000)
    )
    h264 = Packetizer("H264", 90000).packetize(sps_pps_idr, 90000, True)
    assert len(h264.payloads) >= 3  # STAP-A with SPS+PPS, then FU-A fragments
    assert depayloader("H264")(h264.payloads) == sps_pps_idr

    opus = Packetizer("opus", 48000).packetize(b"\x78\x01\x02", 960, True)
    assert opus.payloads == (b"\x78\x01\x02",) and depayloader("opus")(opus.payloads) == (
        b"\x78\x01\x02"
    )


async def test_frame_tap_queue_drops_ends_and_closes() -> None:
    closed: list[FrameTap[int]] = []
    caught_up: list[int] = []
    tap: FrameTap[int] = FrameTap(2, closed.append, on_caught_up=lambda: caught_up.append(1))
    assert tap.offer(1) and tap.offer(2)
    assert not tap.offer(3) and tap.dropped == 1
    assert await _next(tap) == 1
    waiter = asyncio.ensure_future(_next(tap))
    await asyncio.sleep(0)
    assert await waiter == 2
    # a waiting consumer is woken by the next frame
    waiter = asyncio.ensure_future(_next(tap))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    tap.offer(4)
    assert await waiter == 4
    # after a gap, the consumer catching up asks for a keyframe, once
    tap.skip_to_keyframe()
    waiter = asyncio.ensure_future(_next(tap))
    await asyncio.sleep(0.01)
    assert caught_up == [1]
    tap.offer(5)
    assert await waiter == 5
    # end: what is queued is still delivered
    tap.offer(6)
    tap.end()
    assert not tap.offer(7)
    assert [x async for x in tap] == [6]
    tap.close()
    assert closed == []  # ended by the producer: nothing to unregister

    other: FrameTap[int] = FrameTap(5, closed.append)
    other.offer(1)
    other.close()
    other.close()
    assert closed == [other]
    assert [x async for x in other] == []
    with pytest.raises(ValueError):
        FrameTap(0, closed.append)


# --- taps on a forwarder --------------------------------------------------------------


async def test_encoded_tap_gets_whole_frames_with_unwrapped_timestamps(tasks: TaskOwner) -> None:
    upstream = Upstream()
    fwd, counters, _ = _forwarder(tasks, upstream)
    pub = Publisher(fwd, "VP8", 90000)
    frames = _vp8_frames(5)
    pub.send(frames[0], keyframe=True)  # before any tap: not seen by it
    tap = fwd.taps.open_encoded(100)
    for payload in frames[1:]:
        pub.send(payload)
    got: list[EncodedFrame] = [await _next(tap) for _ in frames[1:]]
    assert [f.payload for f in got] == frames[1:]
    start = (1 << 32) - 10_000 + 6000
    assert [f.rtp_timestamp for f in got] == [start + i * 6000 for i in range(4)]
    assert all(f.rtp_timestamp > (1 << 32) for f in got[1:])  # unwrapped, not wrapped
    assert {(f.pid, f.track_id, f.codec, f.clock_rate) for f in got} == {
        ("alice", "alice-video-0", "video/VP8", 90000)
    }
    assert [f.keyframe for f in got] == [False] * 4
    assert counters.tap_decoded_frames == 0

    # mute: taps get what subscribers get, i.e. nothing
    fwd.set_enabled(False)
    pub.send(frames[1])
    assert tap.queued == 0  # type: ignore[attr-defined]
    fwd.set_enabled(True)
    pub.send(frames[2])
    assert (await _next(tap)).rtp_timestamp == start + 5 * 6000

    fwd.close()
    with pytest.raises(StopAsyncIteration):
        await _next(tap)


async def test_one_decoder_per_track_started_and_stopped_on_demand(tasks: TaskOwner) -> None:
    upstream = Upstream()
    fwd, counters, registry = _forwarder(tasks, upstream)
    pub = Publisher(fwd, "VP8", 90000)
    frames = _vp8_frames(8)
    pub.send(frames[0], keyframe=True)
    assert registry.active == 0 and counters.tap_decoded_frames == 0

    first = fwd.taps.open_decoded(60)
    second = fwd.taps.open_decoded(60)
    assert registry.active == 1
    decoder = fwd.taps.decoder
    assert decoder is not None and decoder.thread is not None and decoder.thread.is_alive()
    await asyncio.sleep(0)
    assert upstream.plis == [1234], "starting the decoder asks the publisher for a keyframe"

    pub.send(frames[1])  # a delta frame: the decoder waits for a keyframe
    pub.send(_vp8_frames(1, (200, 40, 40))[0], keyframe=True)
    a = await _next(first)
    b = await _next(second)
    assert a is b and isinstance(a, av.VideoFrame)
    assert (a.width, a.height, a.time_base) == (W, H, fractions.Fraction(1, 90000))
    assert a.pts == (1 << 32) - 10_000 + 2 * 6000
    assert counters.tap_decoded_frames == 1

    first.close()
    assert registry.active == 1
    second.close()
    assert registry.active == 0 and fwd.taps.decoder is None
    await wait_until(lambda: not decoder.thread.is_alive(), 5, "the decoder thread to end")
    pub.send(frames[2])
    await asyncio.sleep(0.05)
    assert counters.tap_decoded_frames == 1
    assert counters.decoded_frames == 0


async def test_decoded_audio_and_track_end(tasks: TaskOwner) -> None:
    upstream = Upstream()
    fwd, _, registry = _forwarder(tasks, upstream, "audio", "audio/opus")
    pub = Publisher(fwd, "opus", 48000)
    enc: Any = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format = 48000, "mono", "s16"
    enc.time_base = fractions.Fraction(1, 48000)
    packets: list[bytes] = []
    for i in range(10):
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(os.urandom(1920))
        frame.sample_rate, frame.pts = 48000, i * 960
        packets.extend(bytes(p) for p in enc.encode(frame))
    tap = fwd.taps.open_decoded(500)
    encoded = fwd.taps.open_encoded(500)
    for p in packets:
        pub.send(p, keyframe=True)
    got = [await _next(tap) for _ in packets]
    assert all(isinstance(f, av.AudioFrame) and f.sample_rate == 48000 for f in got)
    assert [f.pts for f in got] == [(1 << 32) - 10_000 + i * 960 for i in range(len(packets))]
    assert [(await _next(encoded)).payload for _ in packets] == packets
    assert upstream.plis == []  # audio needs no keyframe
    thread = fwd.taps.decoder.thread if fwd.taps.decoder else None
    fwd.close()  # the track is unpublished
    with pytest.raises(StopAsyncIteration):
        await _next(tap)
    with pytest.raises(StopAsyncIteration):
        await _next(encoded)
    assert registry.active == 0
    await registry.join(5)
    assert thread is not None and not thread.is_alive()
    assert fwd.taps.open_decoded(5).ended  # type: ignore[attr-defined]


async def test_a_full_encoded_tap_resumes_on_a_keyframe(tasks: TaskOwner) -> None:
    upstream = Upstream()
    fwd, counters, _ = _forwarder(tasks, upstream)
    pub = Publisher(fwd, "VP8", 90000)
    frames = _vp8_frames(6)
    pub.send(frames[0], keyframe=True)
    tap = fwd.taps.open_encoded(2)
    await asyncio.sleep(0)
    plis = len(upstream.plis)
    assert plis == 1, "opening a video tap asks for a keyframe"
    for payload in frames[1:5]:
        pub.send(payload)
    assert tap.dropped == 2 and counters.tap_dropped_frames == 2
    await asyncio.sleep(0)
    assert len(upstream.plis) == plis, "no keyframe request while the consumer is stuck"
    await _next(tap)
    await _next(tap)
    waiter = asyncio.ensure_future(_next(tap))
    await asyncio.sleep(0.01)
    assert len(upstream.plis) == plis + 1, "caught up: now a keyframe is wanted"
    pub.send(frames[5])  # not a keyframe: skipped
    pub.send(frames[0], keyframe=True)
    got = await waiter
    assert got.keyframe and tap.dropped == 3


async def test_decoder_threads_do_not_block_the_loop(tasks: TaskOwner) -> None:
    """A decoder stopped while busy ends by itself; the loop never waited for it."""
    upstream = Upstream()
    fwd, _, registry = _forwarder(tasks, upstream)
    pub = Publisher(fwd, "VP8", 90000)
    frames = _vp8_frames(30)
    tap = fwd.taps.open_decoded(60)
    started = time.monotonic()
    for i, payload in enumerate(frames):
        pub.send(payload, keyframe=i == 0)
    tap.close()
    assert time.monotonic() - started < 1.0
    await registry.join(5)
    assert not [t for t in threading.enumerate() if t.name == "tap-decoder:alice-video-0"]
