"""One segment file: encoded packets muxed (never decoded) into a container with PyAV.

A segment is written under ``<name>.part`` and only gets its final name after the manifest
lists it, so a name without ``.part`` always means "finished and hashed". Containers:

- one VP8 or one Opus track: WebM (plays in browsers);
- one H.264 track: Matroska (tolerates what browsers' H.264 encoders do mid-stream);
- the composite (H.264 + Opus/AAC): fragmented MP4, which ffplay and browsers play and which,
  like Matroska, stays readable up to the last fragment if the writer dies.
"""

from __future__ import annotations

import contextlib
import fractions
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from .codecs import AAC, H264, OPUS, VP8

PART_SUFFIX = ".part"


class SegmentWriteError(Exception):
    """Opening, writing or closing a segment failed (the cause is chained)."""


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """What the muxer must know about one stream of a segment."""

    codec: str  # normalised MIME type (recording.codecs)
    clock_rate: int
    width: int = 0
    height: int = 0
    channels: int = 2


@dataclass(frozen=True, slots=True)
class ContainerChoice:
    format: str
    extension: str
    options: dict[str, str]


def choose_container(specs: list[StreamSpec]) -> ContainerChoice:
    codecs = [s.codec for s in specs]
    if len(specs) == 1:
        if codecs[0] in (VP8, OPUS):
            return ContainerChoice("webm", "webm", {})
        if codecs[0] == H264:
            return ContainerChoice("matroska", "mkv", {})
        return ContainerChoice("matroska", "mka", {})
    if H264 in codecs or AAC in codecs:
        return ContainerChoice(
            "mp4", "mp4", {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
        )
    if all(c in (VP8, OPUS) for c in codecs):
        return ContainerChoice("webm", "webm", {})
    return ContainerChoice("matroska", "mkv", {})


def open_container(path: Path, choice: ContainerChoice) -> Any:
    """``av.open`` for writing; a seam the tests use to inject faults."""
    return av.open(str(path), "w", format=choice.format, options=dict(choice.options))


def _mux_name(codec: str) -> str:
    return {VP8: "vp8", H264: "h264"}[codec]


class SegmentFile:
    """An open segment. Not thread-safe: one recorder thread owns it."""

    def __init__(self, final_path: Path, specs: list[StreamSpec], choice: ContainerChoice):
        self.final_path = final_path
        self.part_path = final_path.with_name(final_path.name + PART_SUFFIX)
        self.specs = specs
        self.packets = 0
        self._closed = False
        try:
            final_path.parent.mkdir(parents=True, exist_ok=True)
            self._container = open_container(self.part_path, choice)
            self._streams = [self._add_stream(spec) for spec in specs]
        except (OSError, av.FFmpegError, ValueError) as exc:
            self.abort()
            raise SegmentWriteError(f"cannot open {self.part_path.name}: {exc}") from exc

    def _add_stream(self, spec: StreamSpec) -> Any:
        container = self._container
        if spec.codec in (VP8, H264):
            stream = container.add_mux_stream(
                _mux_name(spec.codec), width=spec.width, height=spec.height
            )
        else:
            # Opus and AAC need codec private data (OpusHead, AudioSpecificConfig) that a
            # mux-only stream cannot be given; an encoder context, opened but never fed a
            # sample, writes it. Packets still go to the muxer untouched.
            name = "libopus" if spec.codec == OPUS else "aac"
            layout = "stereo" if spec.channels >= 2 else "mono"
            stream = container.add_stream(name, rate=spec.clock_rate, layout=layout)
        stream.time_base = fractions.Fraction(1, spec.clock_rate)
        return stream

    def write(self, index: int, payload: bytes, pts: int, duration: int, keyframe: bool) -> None:
        """Mux one packet; ``pts``/``duration`` in 1/clock_rate of stream ``index``."""
        stream = self._streams[index]
        packet = av.Packet(payload)
        packet.stream = stream
        packet.time_base = fractions.Fraction(1, self.specs[index].clock_rate)
        packet.pts = packet.dts = pts
        packet.duration = max(duration, 1)
        packet.is_keyframe = keyframe
        try:
            self._container.mux(packet)
        except (OSError, av.FFmpegError, ValueError) as exc:
            raise SegmentWriteError(f"cannot write {self.part_path.name}: {exc}") from exc
        self.packets += 1

    def close(self) -> None:
        """Write the trailer and make the file durable (still under its ``.part`` name)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._container.close()
            fd = os.open(self.part_path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except (OSError, av.FFmpegError, ValueError) as exc:
            raise SegmentWriteError(f"cannot finish {self.part_path.name}: {exc}") from exc

    def abort(self) -> None:
        """Close after a failure, ignoring further errors; the ``.part`` file may remain."""
        if self._closed:
            return
        self._closed = True
        container = getattr(self, "_container", None)
        if container is not None:
            with contextlib.suppress(Exception):
                container.close()
