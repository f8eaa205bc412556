"""Grouping RTP payloads into frames and spotting keyframes, without decoding."""

from __future__ import annotations

from hearing_server.media.frames import (
    AudioSequencer,
    VideoFrameAssembler,
    h264_is_keyframe,
    inspector_for,
    seq_diff,
    vp8_is_frame_start,
    vp8_is_keyframe,
)

VP8_KEY_START = b"\x10\x00\x00\x00"  # S=1 PID=0, frame tag P=0
VP8_DELTA_START = b"\x10\x01\x00\x00"  # P=1
VP8_MIDDLE = b"\x00\xaa\xbb"  # S=0


def test_vp8_keyframe_detection_handles_extended_descriptors() -> None:
    assert vp8_is_keyframe(VP8_KEY_START)
    assert not vp8_is_keyframe(VP8_DELTA_START)
    assert not vp8_is_keyframe(VP8_MIDDLE)
    # X=1, I=1 with a 15-bit picture id, L=1, T=1: 5 descriptor bytes before the frame tag
    extended_key = bytes([0x90, 0xE0, 0x80 | 0x12, 0x34, 0x07, 0x40, 0x00])
    extended_delta = bytes([0x90, 0xE0, 0x80 | 0x12, 0x34, 0x07, 0x40, 0x01])
    assert vp8_is_keyframe(extended_key) and not vp8_is_keyframe(extended_delta)
    assert vp8_is_frame_start(extended_delta)
    assert not vp8_is_keyframe(b"") and not vp8_is_keyframe(bytes([0x90]))


def test_h264_keyframe_detection() -> None:
    assert h264_is_keyframe(b"\x65\x88")  # IDR slice
    assert h264_is_keyframe(b"\x67\x42")  # SPS
    assert not h264_is_keyframe(b"\x41\x9a")  # non-IDR slice
    stap_a = b"\x78" + b"\x00\x02\x67\x42" + b"\x00\x02\x68\xce"
    assert h264_is_keyframe(stap_a)
    assert h264_is_keyframe(b"\x7c\x85\x00")  # FU-A start of an IDR
    assert not h264_is_keyframe(b"\x7c\x05\x00")  # FU-A continuation
    assert not h264_is_keyframe(b"\x7c\x81\x00")  # FU-A start of a non-IDR slice
    assert not h264_is_keyframe(b"")


def test_seq_diff_wraps() -> None:
    assert seq_diff(1, 65535) == 2 and seq_diff(65535, 1) == -2 and seq_diff(5, 5) == 0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _vp8() -> tuple[VideoFrameAssembler, FakeClock]:
    clock = FakeClock()
    return VideoFrameAssembler(inspector_for("VP8"), gap_timeout_s=0.5, clock=clock), clock


def test_frames_are_released_whole_and_in_order() -> None:
    asm, _ = _vp8()
    assert asm.push(100, 9000, False, VP8_KEY_START).frames == []
    assert asm.push(101, 9000, False, VP8_MIDDLE).frames == []
    out = asm.push(102, 9000, True, VP8_MIDDLE)
    assert len(out.frames) == 1 and not out.lost
    frame = out.frames[0]
    assert frame.payloads == (VP8_KEY_START, VP8_MIDDLE, VP8_MIDDLE)
    assert frame.timestamp == 9000 and frame.keyframe
    out = asm.push(103, 12000, True, VP8_DELTA_START)
    assert [f.keyframe for f in out.frames] == [False]


def test_reordered_and_retransmitted_packets_are_put_back_in_order() -> None:
    asm, clock = _vp8()
    asm.push(10, 0, True, VP8_KEY_START)
    assert asm.push(13, 6000, True, VP8_DELTA_START).frames == []
    clock.now = 0.1
    assert asm.push(12, 3000, True, VP8_MIDDLE).frames == []  # 11 missing: hold back
    out = asm.push(11, 3000, False, VP8_DELTA_START)  # the retransmission arrives
    assert [f.timestamp for f in out.frames] == [3000, 6000] and not out.lost
    assert out.frames[0].payloads == (VP8_DELTA_START, VP8_MIDDLE)
    assert asm.push(11, 3000, False, VP8_DELTA_START).frames == []  # late duplicate


def test_a_gap_that_never_fills_is_skipped_and_reported() -> None:
    asm, clock = _vp8()
    asm.push(1, 0, True, VP8_KEY_START)
    asm.push(3, 3000, True, VP8_MIDDLE)  # 2 (start of frame 3000) is lost
    asm.push(4, 6000, True, VP8_DELTA_START)
    clock.now = 0.6
    out = asm.push(5, 9000, True, VP8_DELTA_START)
    assert out.lost
    assert [f.timestamp for f in out.frames] == [6000, 9000]


def test_sequence_numbers_wrap_and_padding_is_skipped() -> None:
    asm, _ = _vp8()
    asm.push(65534, 0, True, VP8_KEY_START)
    asm.push(65535, 0, False, b"")  # padding-only packet between frames
    out = asm.push(0, 3000, False, VP8_DELTA_START)
    out2 = asm.push(1, 3000, True, VP8_MIDDLE)
    assert out.frames == [] and [f.timestamp for f in out2.frames] == [3000]


def test_h264_waits_for_a_frame_boundary_before_starting() -> None:
    clock = FakeClock()
    asm = VideoFrameAssembler(inspector_for("H264"), clock=clock)
    assert asm.push(50, 0, False, b"\x7c\x05\x00").frames == []
    assert asm.push(51, 0, True, b"\x7c\x45\x00").frames == []  # marker: next one starts
    out = asm.push(52, 3000, True, b"\x65\x88")
    assert [(f.timestamp, f.keyframe) for f in out.frames] == [(3000, True)]


def test_missing_marker_is_tolerated_by_timestamp_change() -> None:
    asm, _ = _vp8()
    asm.push(1, 0, True, VP8_KEY_START)
    asm.push(2, 3000, False, VP8_DELTA_START)  # marker bit never set
    out = asm.push(3, 6000, True, VP8_DELTA_START)
    assert [f.timestamp for f in out.frames] == [3000, 6000]


def test_audio_sequencer_drops_stale_and_empty_packets() -> None:
    seq = AudioSequencer()
    assert seq.push(10, 960, b"a") is not None
    assert seq.push(9, 0, b"b") is None
    assert seq.push(10, 960, b"a") is None
    assert seq.push(11, 1920, b"") is None
    frame = seq.push(12, 2880, b"c")
    assert frame is not None and frame.payloads == (b"c",) and frame.timestamp == 2880
