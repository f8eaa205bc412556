from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from transcription.audio import Resampler, frame_time, pcm16_to_samples, samples_to_pcm16


def frame(samples: np.ndarray, rate: int, layout: str, fmt: str = "s16") -> av.AudioFrame:
    channels = 2 if layout == "stereo" else 1
    data = np.repeat(samples[None, :], channels, axis=0)
    if fmt == "s16":
        pcm = (data * 32767).astype(np.int16).T.reshape(1, -1)
        f = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
    else:
        f = av.AudioFrame.from_ndarray(data.astype(np.float32), format="fltp", layout=layout)
    f.sample_rate = rate
    return f


def sine(rate: int, seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_48k_stereo_frames_become_16k_mono_of_the_same_length() -> None:
    r = Resampler()
    wave = sine(48000, 1.0)
    out = [r.feed(frame(wave[i : i + 960], 48000, "stereo")) for i in range(0, 48000, 960)]
    out.append(r.flush())
    mono = np.concatenate(out)
    assert mono.dtype == np.float32
    assert abs(mono.size - 16000) <= 32
    # Same tone: the zero crossings of 440 Hz over ~1 s.
    crossings = np.count_nonzero(np.diff(np.signbit(mono[100:-100])))
    assert crossings == pytest.approx(880, rel=0.02)
    assert float(np.max(np.abs(mono))) == pytest.approx(0.5, rel=0.05)


def test_format_change_mid_stream_starts_a_new_resampler() -> None:
    r = Resampler()
    a = r.feed(frame(sine(48000, 0.02), 48000, "stereo"))
    b = r.feed(frame(sine(16000, 0.02), 16000, "mono", fmt="fltp"))
    c = r.flush()
    total = a.size + b.size + c.size
    assert abs(total - 640) <= 40


def test_frames_are_not_modified() -> None:
    f = frame(sine(48000, 0.02), 48000, "stereo")
    f.pts, f.time_base = 960, Fraction(1, 48000)
    before = bytes(f.planes[0])
    Resampler().feed(f)
    assert bytes(f.planes[0]) == before and f.pts == 960
    assert frame_time(f) == pytest.approx(0.02)


def test_pcm16_round_trip() -> None:
    x = np.array([0.0, 0.5, -0.5, 0.999], dtype=np.float32)
    assert np.allclose(pcm16_to_samples(samples_to_pcm16(x)), x, atol=1 / 32768)
