"""Decoded frames (any rate, layout, format) to 16 kHz mono float32, with PyAV's resampler."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from .stt import SAMPLE_RATE, Samples

_EMPTY: Samples = np.zeros(0, dtype=np.float32)


class Resampler:
    """Converts a stream of ``av.AudioFrame`` to :data:`~transcription.stt.SAMPLE_RATE` mono.

    Frames are never modified (a decoded tap shares its frames with other taps). If the
    input's format, layout or rate changes mid-stream, the old resampler is flushed and a
    new one started.
    """

    def __init__(self) -> None:
        self._resampler: av.AudioResampler | None = None
        self._key: tuple[str, str, int] | None = None

    @staticmethod
    def _new(layout: str) -> av.AudioResampler:
        # Keep the channels and average them here: FFmpeg's stereo-to-mono downmix adds
        # them at -3 dB, which makes identical channels (mono sent as stereo) 41% louder.
        return av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)

    def feed(self, frame: av.AudioFrame) -> Samples:
        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        head = _EMPTY
        if self._resampler is None or key != self._key:
            if self._resampler is not None:
                head = self.flush()
            self._resampler = self._new(frame.layout.name)
            self._key = key
        out = _frames_to_samples(self._resampler.resample(frame))
        return np.concatenate([head, out]) if head.size else out

    def flush(self) -> Samples:
        """Whatever the resampler still holds; the next frame starts a new resampler."""
        r, self._resampler, self._key = self._resampler, None, None
        if r is None:
            return _EMPTY
        return _frames_to_samples(r.resample(None))


def _frames_to_samples(frames: list[av.AudioFrame]) -> Samples:
    if not frames:
        return _EMPTY
    parts = [np.asarray(f.to_ndarray(), dtype=np.float32).mean(axis=0) for f in frames]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def frame_duration(frame: av.AudioFrame) -> float:
    return frame.samples / frame.sample_rate if frame.sample_rate else 0.0


def frame_time(frame: av.AudioFrame) -> float | None:
    """The frame's presentation time in seconds, if it has one."""
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * Fraction(frame.time_base))


def pcm16_to_samples(pcm: bytes | np.ndarray) -> Samples:
    """Signed 16-bit little-endian PCM to float32 samples."""
    arr = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, bytes) else np.asarray(pcm)
    return (arr.astype(np.float32) / 32768.0).reshape(-1)


def samples_to_pcm16(samples: Samples) -> bytes:
    clipped = np.clip(samples, -1.0, 1.0 - 1.0 / 32768)
    return (clipped * 32768.0).astype("<i2").tobytes()
