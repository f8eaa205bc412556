"""Bitstream facts the remuxer needs, checked against real encoder output."""

from __future__ import annotations

import fractions
from typing import Any

import av
import pytest

from recording import codecs


def _encode(name: str, width: int, height: int, n: int = 3, **options: str) -> list[Any]:
    ctx = av.CodecContext.create(name, "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = fractions.Fraction(1, 90000)
    ctx.framerate = 15
    ctx.gop_size = 100
    ctx.options = options
    packets = []
    for i in range(n):
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([(i * 40) % 256]) * plane.buffer_size)
        frame.pts = i * 6000
        packets.extend(ctx.encode(frame))
    packets.extend(ctx.encode(None))
    return packets


@pytest.mark.parametrize(("width", "height"), [(320, 240), (640, 360), (1280, 720), (176, 144)])
def test_vp8_keyframe_and_size(width: int, height: int) -> None:
    packets = _encode("libvpx", width, height, deadline="realtime", **{"cpu-used": "16"})
    first, second = bytes(packets[0]), bytes(packets[1])
    assert codecs.vp8_is_keyframe(first) and not codecs.vp8_is_keyframe(second)
    assert codecs.vp8_dimensions(first) == codecs.Dimensions(width, height)
    assert codecs.vp8_dimensions(second) is None
    assert codecs.is_keyframe(codecs.VP8, first, flagged=False)


@pytest.mark.parametrize(
    ("width", "height", "profile"),
    [(320, 240, "baseline"), (640, 360, "main"), (1280, 720, "high"), (1918, 1078, "high")],
)
def test_h264_keyframe_parameter_sets_and_cropped_size(
    width: int, height: int, profile: str
) -> None:
    packets = _encode("libx264", width, height, preset="ultrafast", profile=profile)
    first, second = bytes(packets[0]), bytes(packets[1])
    assert codecs.h264_is_keyframe(first) and not codecs.h264_is_keyframe(second)
    sps, pps = codecs.h264_parameter_sets(first)
    assert sps is not None and pps is not None
    assert codecs.h264_sps_dimensions(sps) == codecs.Dimensions(width, height)
    assert codecs.h264_dimensions(second) is None


def test_h264_parameter_sets_are_put_in_front_when_missing() -> None:
    first = bytes(_encode("libx264", 320, 240, preset="ultrafast")[0])
    sps, pps = codecs.h264_parameter_sets(first)
    idr_only = b"".join(
        b"\x00\x00\x00\x01" + u
        for u in codecs.h264_nal_units(first)
        if codecs.h264_nal_type(u) == codecs.NAL_IDR
    )
    fixed = codecs.h264_with_parameter_sets(idr_only, sps, pps)
    types = [codecs.h264_nal_type(u) for u in codecs.h264_nal_units(fixed)]
    assert types[:2] == [7, 8] and set(types[2:]) == {5}
    assert codecs.h264_with_parameter_sets(first, sps, pps) == first  # already there


def test_nal_units_with_three_and_four_byte_start_codes() -> None:
    au = b"\x00\x00\x00\x01\x67\xaa\x00\x00\x01\x68\xbb\x00\x00\x00\x01\x65\xcc\xdd"
    assert codecs.h264_nal_units(au) == [b"\x67\xaa", b"\x68\xbb", b"\x65\xcc\xdd"]
    assert codecs.h264_nal_units(b"") == []
    assert codecs.h264_sps_dimensions(b"\x67") is None  # truncated SPS


@pytest.mark.parametrize(
    ("toc", "extra", "samples"),
    [
        (0x78, b"", 960),  # config 15: hybrid FB 20 ms, one frame
        (0xF8, b"", 960),  # config 31: CELT FB 20 ms
        (0xE0, b"", 120),  # config 28: CELT FB 2.5 ms
        (0x18, b"", 2880),  # config 3: SILK NB 60 ms
        (0x79, b"", 1920),  # two frames of 20 ms
        (0x0B, b"\x03", 2880),  # config 1 (SILK 20 ms), code 3 with a count of 3
    ],
)
def test_opus_packet_samples(toc: int, extra: bytes, samples: int) -> None:
    assert codecs.opus_packet_samples(bytes([toc]) + extra + b"\x00" * 10) == samples


def test_opus_from_the_encoder() -> None:
    ctx = av.CodecContext.create("libopus", "w")
    ctx.sample_rate, ctx.layout, ctx.format = 48000, "stereo", "s16"
    ctx.time_base = fractions.Fraction(1, 48000)
    frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
    frame.planes[0].update(b"\x00" * frame.planes[0].buffer_size)
    frame.sample_rate, frame.pts = 48000, 0
    packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    payload = bytes(packets[0])
    assert codecs.opus_packet_samples(payload) == 960
    assert codecs.opus_channels(payload) in (1, 2)
    assert codecs.opus_packet_samples(b"") is None
    assert codecs.normalise_codec("audio/OPUS ") == codecs.OPUS
