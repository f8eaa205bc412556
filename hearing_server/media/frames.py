"""RTP payloads grouped into encoded frames, without depacketizing or decoding them.

A subscriber's aiortc sender sends one frame at a time (marker bit on its last packet),
so video packets are put back in sequence order and released a whole frame at a time.
Payloads keep the publisher's packetization (VP8 payload descriptor, H.264 FU-A/STAP-A).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

_SEQ_MOD = 0x10000
_HALF = 0x8000
#: a jump this large is a restarted stream, not loss
_MAX_JUMP = 3000


@dataclass(frozen=True, slots=True)
class ForwardedFrame:
    """One encoded frame as RTP payloads, with the publisher's RTP timestamp."""

    payloads: tuple[bytes, ...]
    timestamp: int
    keyframe: bool


def seq_diff(a: int, b: int) -> int:
    """a - b for 16-bit sequence numbers, in [-32768, 32767]."""
    d = (a - b) % _SEQ_MOD
    return d - _SEQ_MOD if d >= _HALF else d


# --- codec-specific peeks at the payload (RFC 7741, RFC 6184); nothing is depayloaded ---


def _vp8_descriptor_size(payload: bytes) -> int | None:
    if not payload:
        return None
    pos = 1
    if payload[0] & 0x80:
        if len(payload) < 2:
            return None
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if len(payload) <= pos:
                return None
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/KEYIDX byte
            pos += 1
    return pos if pos <= len(payload) else None


def vp8_is_frame_start(payload: bytes) -> bool:
    """S bit set and partition index 0: the first packet of a VP8 frame."""
    return bool(payload) and (payload[0] & 0x10) != 0 and (payload[0] & 0x0F) == 0


def vp8_is_keyframe(payload: bytes) -> bool:
    """True for the first packet of a VP8 key frame (P bit of the frame tag is 0)."""
    if not vp8_is_frame_start(payload):
        return False
    size = _vp8_descriptor_size(payload)
    return size is not None and size < len(payload) and (payload[size] & 0x01) == 0


_H264_KEY_NALS = (5, 7)  # IDR slice, SPS


def h264_is_keyframe(payload: bytes) -> bool:
    """True if the packet carries an IDR slice or an SPS (single NAL, STAP-A or FU-A start)."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if 1 <= nal_type <= 23:
        return nal_type in _H264_KEY_NALS
    if nal_type == 24:  # STAP-A
        pos = 1
        while pos + 2 < len(payload):
            size = (payload[pos] << 8) | payload[pos + 1]
            pos += 2
            if (payload[pos] & 0x1F) in _H264_KEY_NALS:
                return True
            pos += size
        return False
    if nal_type == 28 and len(payload) >= 2:  # FU-A
        return bool(payload[1] & 0x80) and (payload[1] & 0x1F) in _H264_KEY_NALS
    return False


@dataclass(frozen=True)
class PayloadInspector:
    """Codec-specific answers about one RTP payload."""

    is_keyframe: Callable[[bytes], bool]
    #: None when the codec has no cheap "first packet of a frame" flag
    is_frame_start: Callable[[bytes], bool] | None = None


def inspector_for(codec_name: str) -> PayloadInspector:
    """The payload inspector for ``VP8``, ``H264`` or an audio codec."""
    name = codec_name.upper()
    if name == "VP8":
        return PayloadInspector(is_keyframe=vp8_is_keyframe, is_frame_start=vp8_is_frame_start)
    if name == "H264":
        return PayloadInspector(is_keyframe=h264_is_keyframe)
    return PayloadInspector(is_keyframe=lambda _payload: True)


@dataclass(slots=True)
class _Packet:
    timestamp: int
    marker: bool
    payload: bytes


@dataclass
class AssembledFrames:
    """What one packet released: complete frames in order, and whether data was lost
    (the next frame forwarded must then be a keyframe)."""

    frames: list[ForwardedFrame] = field(default_factory=list)
    lost: bool = False


class VideoFrameAssembler:
    """Reorders video packets and releases complete frames in sequence order.

    A missing packet holds back later frames until it arrives (NACK/RTX upstream are
    aiortc's job) or ``gap_timeout_s`` passes; then the gap is skipped and ``lost`` is
    reported so the forwarder can wait for a keyframe.
    """

    def __init__(
        self,
        inspector: PayloadInspector,
        *,
        gap_timeout_s: float = 0.5,
        max_buffered: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inspector = inspector
        self._gap_timeout_s = gap_timeout_s
        self._max_buffered = max_buffered
        self._clock = clock
        self._buffer: dict[int, _Packet] = {}
        self._next: int | None = None  # first sequence number of the next frame
        self._gap_since: float | None = None

    def reset(self) -> None:
        self._buffer.clear()
        self._next = None
        self._gap_since = None

    def push(self, seq: int, timestamp: int, marker: bool, payload: bytes) -> AssembledFrames:
        """Add one packet (after RTX unwrap); returns the frames it completes."""
        result = AssembledFrames()
        if self._next is None and not self._sync(seq, marker, payload):
            return result
        assert self._next is not None
        distance = seq_diff(seq, self._next)
        if distance < 0:
            return result  # late duplicate or retransmission of something already released
        if distance > _MAX_JUMP:
            self.reset()
            result.lost = True
            if not self._sync(seq, marker, payload):
                return result
        self._buffer[seq] = _Packet(timestamp, marker, payload)
        self._drain(result)
        if self._buffer:
            now = self._clock()
            if self._gap_since is None:
                self._gap_since = now
            elif (
                now - self._gap_since > self._gap_timeout_s
                or len(self._buffer) > self._max_buffered
            ):
                result.lost = True
                self._skip_gap()
                self._drain(result)
                self._gap_since = now if self._buffer else None
        else:
            self._gap_since = None
        return result

    def _sync(self, seq: int, marker: bool, payload: bytes) -> bool:
        """Find a frame boundary to start from; True if this packet starts a frame."""
        start = self._inspector.is_frame_start
        if start is not None and start(payload):
            self._next = seq
            return True
        if marker:
            self._next = (seq + 1) % _SEQ_MOD
        return False

    def _drain(self, result: AssembledFrames) -> None:
        while self._next is not None:
            seq = self._next
            collected: list[int] = []
            frame_ts: int | None = None
            complete = False
            while seq in self._buffer:
                pkt = self._buffer[seq]
                if not collected and not pkt.payload:
                    # padding between frames consumes a sequence number only
                    del self._buffer[seq]
                    seq = (seq + 1) % _SEQ_MOD
                    self._next = seq
                    continue
                if collected and pkt.timestamp != frame_ts:
                    complete = True  # marker bit missing: the timestamp change ends the frame
                    break
                frame_ts = pkt.timestamp
                collected.append(seq)
                seq = (seq + 1) % _SEQ_MOD
                if pkt.marker:
                    complete = True
                    break
            if not complete or frame_ts is None:
                return
            packets = [self._buffer.pop(s) for s in collected]
            payloads = tuple(p.payload for p in packets if p.payload)
            keyframe = any(self._inspector.is_keyframe(p) for p in payloads[:4])
            result.frames.append(ForwardedFrame(payloads, frame_ts, keyframe))
            self._next = seq

    def _skip_gap(self) -> None:
        """Give up on the missing packet(s): restart at the next frame boundary we hold."""
        assert self._next is not None
        ordered = sorted(self._buffer, key=lambda s: seq_diff(s, self._next or 0))
        start = self._inspector.is_frame_start
        for s in ordered:
            prev = self._buffer.get((s - 1) % _SEQ_MOD)
            pkt = self._buffer[s]
            if (prev is not None and prev.marker) or (start is not None and start(pkt.payload)):
                for old in ordered:
                    if old == s:
                        break
                    del self._buffer[old]
                self._next = s
                return
        # no boundary held: drop everything and resynchronise on the next marker
        marker_seqs = [s for s in ordered if self._buffer[s].marker]
        self._buffer.clear()
        self._next = (marker_seqs[-1] + 1) % _SEQ_MOD if marker_seqs else None


class AudioSequencer:
    """Audio packets are frames of their own: forward in arrival order, drop stale ones."""

    def __init__(self) -> None:
        self._last: int | None = None

    def reset(self) -> None:
        self._last = None

    def push(self, seq: int, timestamp: int, payload: bytes) -> ForwardedFrame | None:
        if not payload:
            return None
        if self._last is not None:
            d = seq_diff(seq, self._last)
            if d <= 0 and d > -_MAX_JUMP:
                return None
        self._last = seq
        return ForwardedFrame((payload,), timestamp, True)
