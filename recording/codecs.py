"""Just enough bitstream parsing to remux without decoding.

The muxers need a few facts the payloads carry in their headers: whether a video frame is a
keyframe, the picture size (VP8 keyframe header, H.264 SPS), the H.264 parameter sets a
segment must start with, and how many samples an Opus packet holds. Nothing here decodes
pictures or sound.
"""

from __future__ import annotations

from dataclasses import dataclass

VP8 = "video/vp8"
H264 = "video/h264"
OPUS = "audio/opus"
AAC = "audio/aac"

SUPPORTED = frozenset({VP8, H264, OPUS, AAC})
VIDEO_CODECS = frozenset({VP8, H264})
AUDIO_CODECS = frozenset({OPUS, AAC})


def normalise_codec(mime: str) -> str:
    """``video/VP8`` → ``video/vp8``: MIME types compare case-insensitively."""
    return mime.strip().lower()


@dataclass(frozen=True, slots=True)
class Dimensions:
    width: int
    height: int


# -- VP8 (RFC 6386 section 9.1) -----------------------------------------------------------


def vp8_is_keyframe(payload: bytes) -> bool:
    """The frame tag's lowest bit is 0 for a key frame."""
    return len(payload) >= 3 and payload[0] & 0x01 == 0


def vp8_dimensions(payload: bytes) -> Dimensions | None:
    """Picture size from a VP8 key frame header, None for inter frames or garbage."""
    if not vp8_is_keyframe(payload) or len(payload) < 10 or payload[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(payload[6:8], "little") & 0x3FFF
    height = int.from_bytes(payload[8:10], "little") & 0x3FFF
    if width == 0 or height == 0:
        return None
    return Dimensions(width, height)


# -- H.264 Annex-B (ITU-T H.264 7.3.2.1.1) ---------------------------------------------------

NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
_START = b"\x00\x00\x01"


def h264_nal_units(access_unit: bytes) -> list[bytes]:
    """The NAL units of an Annex-B access unit, without start codes."""
    units: list[bytes] = []
    i = access_unit.find(_START)
    while i != -1:
        begin = i + 3
        nxt = access_unit.find(_START, begin)
        end = len(access_unit) if nxt == -1 else nxt
        unit = access_unit[begin:end]
        if nxt != -1:
            unit = unit.rstrip(b"\x00")  # the leading zero of a 4-byte start code
        if unit:
            units.append(unit)
        i = nxt
    return units


def h264_nal_type(unit: bytes) -> int:
    return unit[0] & 0x1F


def h264_is_keyframe(access_unit: bytes) -> bool:
    """An access unit holding an IDR slice."""
    return any(h264_nal_type(u) == NAL_IDR for u in h264_nal_units(access_unit))


def h264_parameter_sets(access_unit: bytes) -> tuple[bytes | None, bytes | None]:
    """The (SPS, PPS) NAL units an access unit carries, if any."""
    sps = pps = None
    for unit in h264_nal_units(access_unit):
        kind = h264_nal_type(unit)
        if kind == NAL_SPS:
            sps = unit
        elif kind == NAL_PPS:
            pps = unit
    return sps, pps


def h264_with_parameter_sets(access_unit: bytes, sps: bytes | None, pps: bytes | None) -> bytes:
    """``access_unit`` with SPS and PPS put in front when it lacks them.

    A segment is a file of its own: its first keyframe must carry the parameter sets even
    when the publisher sent them only once.
    """
    have_sps, have_pps = h264_parameter_sets(access_unit)
    prefix = b""
    if have_sps is None and sps is not None:
        prefix += b"\x00\x00\x00\x01" + sps
    if have_pps is None and pps is not None:
        prefix += b"\x00\x00\x00\x01" + pps
    return prefix + access_unit if prefix else access_unit


class _Bits:
    """An Exp-Golomb bit reader over an RBSP (emulation prevention bytes removed)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self._pos >> 3
            if byte >= len(self._data):
                raise ValueError("SPS ends early")
            value = (value << 1) | ((self._data[byte] >> (7 - (self._pos & 7))) & 1)
            self._pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _rbsp(unit: bytes) -> bytes:
    out = bytearray()
    zeros = 0
    for b in unit:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def h264_sps_dimensions(sps: bytes) -> Dimensions | None:
    """Cropped picture size from an SPS NAL unit (with its header byte), None if unreadable."""
    try:
        r = _Bits(_rbsp(sps[1:]))
        profile_idc = r.u(8)
        r.u(16)  # constraint flags, level_idc
        r.ue()  # seq_parameter_set_id
        chroma_format_idc = 1
        separate_colour_plane = 0
        if profile_idc in _HIGH_PROFILES:
            chroma_format_idc = r.ue()
            if chroma_format_idc == 3:
                separate_colour_plane = r.u(1)
            r.ue()  # bit_depth_luma_minus8
            r.ue()  # bit_depth_chroma_minus8
            r.u(1)  # qpprime_y_zero_transform_bypass_flag
            if r.u(1):  # seq_scaling_matrix_present_flag
                for i in range(8 if chroma_format_idc != 3 else 12):
                    if r.u(1):
                        size = 16 if i < 6 else 64
                        last = nxt = 8
                        for _ in range(size):
                            if nxt != 0:
                                nxt = (last + r.se() + 256) % 256
                            last = nxt if nxt != 0 else last
        r.ue()  # log2_max_frame_num_minus4
        poc_type = r.ue()
        if poc_type == 0:
            r.ue()
        elif poc_type == 1:
            r.u(1)
            r.se()
            r.se()
            for _ in range(r.ue()):
                r.se()
        r.ue()  # max_num_ref_frames
        r.u(1)  # gaps_in_frame_num_value_allowed_flag
        width_mbs = r.ue() + 1
        height_units = r.ue() + 1
        frame_mbs_only = r.u(1)
        if not frame_mbs_only:
            r.u(1)  # mb_adaptive_frame_field_flag
        r.u(1)  # direct_8x8_inference_flag
        crop = (0, 0, 0, 0)
        if r.u(1):
            crop = (r.ue(), r.ue(), r.ue(), r.ue())
    except ValueError:
        return None
    if separate_colour_plane or chroma_format_idc == 0:
        unit_x, unit_y = 1, 2 - frame_mbs_only
    else:
        sub_w = 1 if chroma_format_idc == 3 else 2
        sub_h = 2 if chroma_format_idc == 1 else 1
        unit_x, unit_y = sub_w, sub_h * (2 - frame_mbs_only)
    width = width_mbs * 16 - unit_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_units * 16 - unit_y * (crop[2] + crop[3])
    if width <= 0 or height <= 0:
        return None
    return Dimensions(width, height)


def h264_dimensions(access_unit: bytes) -> Dimensions | None:
    sps, _ = h264_parameter_sets(access_unit)
    return None if sps is None else h264_sps_dimensions(sps)


# -- Opus (RFC 6716 section 3.1) ---------------------------------------------------------------

_SILK_MS = (10, 20, 40, 60)
_CELT_TENTHS_MS = (25, 50, 100, 200)


def opus_packet_samples(payload: bytes) -> int | None:
    """Samples at 48 kHz in one Opus packet, None if the TOC cannot be read."""
    if not payload:
        return None
    toc = payload[0]
    config = toc >> 3
    if config < 12:
        tenths = _SILK_MS[config % 4] * 10
    elif config < 16:
        tenths = 100 if config % 2 == 0 else 200
    else:
        tenths = _CELT_TENTHS_MS[config % 4]
    code = toc & 0x03
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        if len(payload) < 2:
            return None
        count = payload[1] & 0x3F
        if count == 0:
            return None
    return tenths * 48 * count // 10


def opus_silence(channels: int) -> bytes:
    """One 20 ms Opus packet that decodes to silence (CELT fullband, one frame, the
    "silence frame" WebRTC stacks send), mono or stereo by ``channels``."""
    return bytes((0xFC if channels >= 2 else 0xF8, 0xFF, 0xFE))


OPUS_SILENCE_SAMPLES = 960  # at 48 kHz: the 20 ms of ``opus_silence``


def opus_channels(payload: bytes) -> int:
    """1 or 2, from the TOC's stereo flag."""
    return 2 if payload and payload[0] & 0x04 else 1


def is_keyframe(codec: str, payload: bytes, flagged: bool) -> bool:
    """Keyframe status from the bitstream where we can read it, else the tap's flag."""
    if codec == VP8:
        return vp8_is_keyframe(payload)
    if codec == H264:
        return h264_is_keyframe(payload)
    return flagged if codec in VIDEO_CODECS else True


def dimensions(codec: str, payload: bytes) -> Dimensions | None:
    if codec == VP8:
        return vp8_dimensions(payload)
    if codec == H264:
        return h264_dimensions(payload)
    return None
