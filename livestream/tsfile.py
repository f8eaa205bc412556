"""One MPEG-TS segment file, muxed with PyAV: H.264 copied as it is, AAC from our encoder.

MPEG-TS rather than fragmented MP4: every segment stands alone (no init segment), so a slate
of another encoder's making can sit between two courtroom segments behind a discontinuity
tag, and players of every kind (hls.js, Safari, VLC) accept it.
"""

from __future__ import annotations

import contextlib
import fractions
from pathlib import Path
from typing import Any

import av

VIDEO_TIME_BASE = fractions.Fraction(1, 90_000)


class TsSegmentError(Exception):
    """Opening, writing or finishing a segment failed (the cause is chained)."""


class TsSegmentFile:
    """An open segment: an H.264 stream (remuxed) and an AAC stream.

    The AAC stream is created through an encoder context that is opened with a global header
    and never fed: that is how the muxer learns the AudioSpecificConfig it needs to put ADTS
    headers on the raw AAC packets of the one persistent encoder (``AacTranscoder``).
    """

    def __init__(
        self, path: Path, *, width: int, height: int, sample_rate: int, layout: str
    ) -> None:
        self.path = path
        self.packets = 0
        self._closed = False
        try:
            self._out: Any = av.open(str(path), "w", format="mpegts")
            self._video = self._out.add_mux_stream("h264", width=width, height=height)
            self._video.time_base = VIDEO_TIME_BASE
            audio = self._out.add_stream("aac", rate=sample_rate, layout=layout)
            audio.codec_context.flags |= av.codec.context.Flags.global_header
            audio.time_base = fractions.Fraction(1, sample_rate)
            self._audio = audio
            self._audio_time_base = fractions.Fraction(1, sample_rate)
        except (OSError, av.FFmpegError, ValueError) as exc:
            self.abort()
            raise TsSegmentError(f"cannot open {path.name}: {exc}") from exc

    def write_video(self, payload: bytes, pts: int, keyframe: bool) -> None:
        """One H.264 access unit (Annex-B); ``pts`` in 1/90000 s."""
        packet = av.Packet(payload)
        packet.stream = self._video
        packet.time_base = VIDEO_TIME_BASE
        packet.pts = packet.dts = pts
        packet.is_keyframe = keyframe
        self._mux(packet)

    def write_audio(self, packet: av.Packet[Any]) -> None:
        """One AAC packet from the transcoder; its pts counts samples."""
        packet.stream = self._audio
        packet.time_base = self._audio_time_base
        self._mux(packet)

    def _mux(self, packet: av.Packet[Any]) -> None:
        try:
            self._out.mux(packet)
        except (OSError, av.FFmpegError, ValueError) as exc:
            raise TsSegmentError(f"cannot write {self.path.name}: {exc}") from exc
        self.packets += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._out.close()
        except (OSError, av.FFmpegError, ValueError) as exc:
            raise TsSegmentError(f"cannot finish {self.path.name}: {exc}") from exc

    def abort(self) -> None:
        """Close after a failure or a cut, ignoring errors, and delete the file."""
        if not self._closed:
            self._closed = True
            out = getattr(self, "_out", None)
            if out is not None:
                with contextlib.suppress(Exception):
                    out.close()
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
