"""The slate viewers see while the judge has cut the stream: real segments of a still picture
("庭审直播暂停 / The livestream is paused") and silence, so players keep playing.

The picture is encoded once per stream (a few hundred milliseconds of libx264 on a still
image); each slate segment is then a remux of those packets with its own timestamps.
"""

from __future__ import annotations

import fractions
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .audio import AAC_FRAME, SAMPLE_RATE
from .tsfile import TsSegmentFile

SLATE_LINES = ("庭审直播暂停", "The livestream is paused")


@dataclass(frozen=True, slots=True)
class _Packet:
    payload: bytes
    pts: int  # video: 1/90000 s; audio: samples
    keyframe: bool


@dataclass(frozen=True, slots=True)
class SlateTemplate:
    """The encoded slate: ``duration_s`` of video and silent AAC, timestamps from 0."""

    width: int
    height: int
    duration_s: float
    video: tuple[_Packet, ...]
    audio: tuple[_Packet, ...]
    layout: str

    def write(self, path: Path, offset_s: float) -> None:
        """A slate segment at ``path`` whose timestamps start at ``offset_s``."""
        seg = TsSegmentFile(
            path, width=self.width, height=self.height, sample_rate=SAMPLE_RATE, layout=self.layout
        )
        try:
            v_off = round(offset_s * 90_000)
            a_off = round(offset_s * SAMPLE_RATE)
            audio = iter(self.audio)
            pending = next(audio, None)
            for v in self.video:
                # Interleave by time so the muxer never has to buffer much.
                while pending is not None and pending.pts * 90_000 // SAMPLE_RATE <= v.pts:
                    seg.write_audio(_aac_packet(pending, a_off))
                    pending = next(audio, None)
                seg.write_video(v.payload, v.pts + v_off, v.keyframe)
            while pending is not None:
                seg.write_audio(_aac_packet(pending, a_off))
                pending = next(audio, None)
            seg.close()
        except BaseException:
            seg.abort()
            raise


def _aac_packet(p: _Packet, offset: int) -> av.Packet[Any]:
    packet = av.Packet(p.payload)
    packet.pts = packet.dts = p.pts + offset
    packet.duration = AAC_FRAME
    return packet


def _picture(width: int, height: int, font_path: Path) -> np.ndarray:
    image = Image.new("RGB", (width, height), (24, 32, 48))
    draw = ImageDraw.Draw(image)
    sizes = (height // 9, height // 16)
    y = height // 2 - (sizes[0] + sizes[1]) // 2 - height // 30
    for line, size in zip(SLATE_LINES, sizes, strict=True):
        font = ImageFont.truetype(str(font_path), size=size, index=0)
        w = draw.textlength(line, font=font)
        draw.text(((width - w) / 2, y), line, font=font, fill=(240, 240, 240))
        y += size + height // 20
    return np.asarray(image)


def encode_slate(
    *,
    width: int,
    height: int,
    font_path: Path,
    duration_s: float = 2.0,
    fps: int = 5,
    layout: str = "mono",
) -> SlateTemplate:
    """Encode the slate once: a still picture at a low frame rate (it never moves) starting
    with an IDR, and AAC silence of the same length."""
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height = width, height
    enc.pix_fmt = "yuv420p"
    enc.framerate = fractions.Fraction(fps, 1)
    enc.time_base = fractions.Fraction(1, fps)
    enc.gop_size = max(1, round(duration_s * fps))
    enc.options = {"preset": "veryfast", "tune": "stillimage", "profile": "baseline"}
    enc.open()
    rgb = av.VideoFrame.from_ndarray(_picture(width, height, font_path), format="rgb24")
    yuv = rgb.reformat(format="yuv420p")
    frames = round(duration_s * fps)
    video: list[_Packet] = []

    def keep(packets: list[av.Packet[Any]]) -> None:
        for p in packets:
            assert p.pts is not None
            video.append(_Packet(bytes(p), p.pts * 90_000 // fps, bool(p.is_keyframe)))

    for i in range(frames):
        frame = yuv.reformat()  # a copy: the encoder may hold on to the frame it is given
        frame.pts = i
        keep(enc.encode(frame))
    keep(enc.encode(None))

    aac = av.CodecContext.create("aac", "w")
    aac.sample_rate = SAMPLE_RATE
    aac.layout = layout
    aac.format = "fltp"
    aac.bit_rate = 32_000
    aac.time_base = fractions.Fraction(1, SAMPLE_RATE)
    aac.open()
    audio: list[_Packet] = []
    total = round(duration_s * SAMPLE_RATE)
    channels = 1 if layout == "mono" else 2
    for start in range(0, total, AAC_FRAME):
        block = av.AudioFrame.from_ndarray(
            np.zeros((channels, AAC_FRAME), dtype=np.float32), format="fltp", layout=layout
        )
        block.sample_rate = SAMPLE_RATE
        block.pts = start
        for p in aac.encode(block):
            assert p.pts is not None
            audio.append(_Packet(bytes(p), p.pts, False))
    for p in aac.encode(None):
        if p.pts is not None:
            audio.append(_Packet(bytes(p), p.pts, False))
    # The encoder's priming makes its first pts negative: start the silence at 0.
    first = audio[0].pts if audio else 0
    audio = [_Packet(a.payload, a.pts - first, False) for a in audio if a.pts - first < total]
    return SlateTemplate(width, height, duration_s, tuple(video), tuple(audio), layout)
