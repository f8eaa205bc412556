"""Opus → AAC for the HLS segments (Safari and most players do not take Opus in MPEG-TS).

One decoder and one encoder for the whole stream, so the AAC encoder's priming happens once
and segment boundaries carry no gaps. Samples are placed on the stream clock by the first
Opus packet's time; after that they are counted, which keeps the audio gapless.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av

SAMPLE_RATE = 48_000
AAC_FRAME = 1024


class AacTranscoder:
    """Decode Opus packets, re-encode the samples as AAC-LC (mono, 48 kHz)."""

    def __init__(self, bit_rate: int = 64_000, layout: str = "mono") -> None:
        self.layout = layout
        self._dec = av.CodecContext.create("opus", "r")
        self._dec.sample_rate = SAMPLE_RATE
        self._dec.layout = layout
        self._bit_rate = bit_rate
        self._enc = self._open_encoder()
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
        self._fifo = av.AudioFifo()
        self._origin: int | None = None  # stream-clock sample of the first sample
        self._samples = 0

    def _open_encoder(self) -> av.AudioCodecContext:
        enc = av.CodecContext.create("aac", "w")
        enc.sample_rate = SAMPLE_RATE
        enc.layout = self.layout
        enc.format = "fltp"
        enc.bit_rate = self._bit_rate
        enc.time_base = Fraction(1, SAMPLE_RATE)
        enc.open()
        return enc

    def reset(self) -> None:
        """Start afresh after a cut: what the encoder still holds belongs to withheld media,
        and the next packet anchors the clock again."""
        self._enc = self._open_encoder()
        self._origin = None
        self._samples = 0
        self._fifo = av.AudioFifo()

    def transcode(self, opus: bytes, t_s: float) -> list[av.Packet[Any]]:
        """AAC packets (pts in samples on the stream clock) ready after ``opus``."""
        if self._origin is None:
            self._origin = round(t_s * SAMPLE_RATE)
        out: list[av.Packet[Any]] = []
        for frame in self._dec.decode(av.Packet(opus)):
            frame.pts = None
            for resampled in self._resampler.resample(frame):
                self._fifo.write(resampled)
        while self._fifo.samples >= AAC_FRAME:
            block = self._fifo.read(AAC_FRAME)
            if block is None:
                break
            block.pts = self._origin + self._samples
            self._samples += AAC_FRAME
            out.extend(self._enc.encode(block))
        return out
