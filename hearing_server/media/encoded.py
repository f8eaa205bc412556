"""Between RTP payloads and whole encoded frames, for taps and server sources.

Forwarding keeps the publisher's packetization; taps want the frame itself (a VP8 frame,
an H.264 access unit in Annex-B form, an Opus packet) and server sources have frames to
packetize. Both directions use aiortc's own (public) payload code, so the bytes match
what aiortc would produce or accept.
"""

from __future__ import annotations

import fractions
from collections.abc import Callable

import av
from aiortc.codecs.h264 import H264Encoder, h264_depayload
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload

from .frames import ForwardedFrame

_U32 = 1 << 32
_HALF32 = 1 << 31


def depayloader(codec_name: str) -> Callable[[tuple[bytes, ...]], bytes]:
    """A function that joins one frame's RTP payloads into the encoded frame.

    Raises ``ValueError`` (from aiortc) on a malformed payload.
    """
    name = codec_name.upper()
    if name == "VP8":
        return lambda payloads: b"".join(vp8_depayload(p) for p in payloads)
    if name == "H264":
        return lambda payloads: b"".join(h264_depayload(p) for p in payloads)
    return lambda payloads: b"".join(payloads)


class Packetizer:
    """Turns encoded frames into RTP payloads exactly as aiortc's sender would.

    One per published track: VP8's picture id runs on from frame to frame.
    """

    def __init__(self, codec_name: str, clock_rate: int) -> None:
        name = codec_name.upper()
        self._time_base = fractions.Fraction(1, clock_rate)
        self._packer: Vp8Encoder | H264Encoder | None
        if name == "VP8":
            self._packer = Vp8Encoder()
        elif name == "H264":
            self._packer = H264Encoder()
        else:
            self._packer = None  # Opus: one packet is one RTP payload

    def packetize(self, payload: bytes, rtp_timestamp: int, keyframe: bool) -> ForwardedFrame:
        """``rtp_timestamp`` in the track's clock rate (any size; sent modulo 2**32)."""
        if self._packer is None:
            payloads: list[bytes] = [payload]
        else:
            packet = av.Packet(payload)
            packet.pts = rtp_timestamp
            packet.time_base = self._time_base
            payloads, _ts = self._packer.pack(packet)
        return ForwardedFrame(tuple(payloads), rtp_timestamp % _U32, keyframe)


class TimestampUnwrapper:
    """32-bit RTP timestamps to a monotonic count in the same clock.

    A new stream (the publisher's SSRC changed) or a step backwards is rebased: the count
    continues from the last value plus the arrival time elapsed since it.
    """

    def __init__(self, clock_rate: int) -> None:
        self._clock_rate = clock_rate
        self._last_raw: int | None = None
        self._last_arrival = 0.0
        self._value = 0
        self._restart = False

    def restart(self) -> None:
        """The next timestamp belongs to a new stream."""
        self._restart = True

    def unwrap(self, raw: int, arrival: float) -> int:
        if self._last_raw is None:
            self._value = raw
        else:
            diff = ((raw - self._last_raw + _HALF32) % _U32) - _HALF32
            if self._restart or diff <= 0:
                elapsed = round((arrival - self._last_arrival) * self._clock_rate)
                diff = max(1, elapsed)
            self._value += diff
        self._restart = False
        self._last_raw = raw
        self._last_arrival = arrival
        return self._value
