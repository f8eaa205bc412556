"""The mixer, limiter and speaker choice, fed synthetic frames (no threads, no clock)."""

from __future__ import annotations

import math

import av
import numpy as np

from hearing_server.media.compositor.audio import (
    BLOCK,
    AudioMixer,
    SoftLimiter,
    SpeakerTracker,
)


def frames(freq: float, amp: float, blocks: int, *, stereo: bool = True, rate: int = 48_000):
    """``blocks`` 20 ms frames of a sine, s16, like a decoded tap."""
    n = rate // 50
    out = []
    for b in range(blocks):
        t = (np.arange(n) + b * n) / rate
        mono = (np.sin(2 * np.pi * freq * t) * amp * 32767).astype(np.int16)
        data = np.repeat(mono, 2).reshape(1, -1) if stereo else mono.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(
            data, format="s16", layout="stereo" if stereo else "mono"
        )
        frame.sample_rate = rate
        frame.pts = b * n
        out.append(frame)
    return out


def power(x: np.ndarray, freq: float) -> float:
    k = np.arange(x.shape[0])
    re = float(np.dot(x, np.cos(2 * math.pi * freq * k / 48_000)))
    im = float(np.dot(x, np.sin(2 * math.pi * freq * k / 48_000)))
    return (re * re + im * im) / x.shape[0] ** 2


def longest_run(flags: np.ndarray) -> int:
    best = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        best = max(best, current)
    return best


def run(mixer: AudioMixer, feeds: dict[str, list[av.AudioFrame]], unmuted: set[str]):
    """Feed one frame per input per block and mix; returns the int16 output."""
    out = []
    blocks = max(len(f) for f in feeds.values())
    for b in range(blocks):
        for pid, fs in feeds.items():
            mixer.feed(pid, fs[b : b + 1])
        pcm, _ = mixer.mix(set(feeds), unmuted)
        out.append(pcm)
    return np.concatenate(out).astype(np.float32) / 32768


def test_mix_contains_unmuted_inputs_only() -> None:
    mixer = AudioMixer()
    feeds = {"a": frames(500, 0.3, 50), "b": frames(700, 0.3, 50), "c": frames(1100, 0.3, 50)}
    mix = run(mixer, feeds, {"a", "b"})[BLOCK * 5 :]
    assert power(mix, 500) > 0.015 and power(mix, 700) > 0.015  # ≈ 0.3² / 4 = 0.0225
    assert power(mix, 1100) < 1e-6
    assert mixer.stats.underruns == 0


def test_inputs_at_other_rates_and_layouts_are_resampled() -> None:
    mixer = AudioMixer()
    feeds = {"a": frames(440, 0.3, 50, stereo=False, rate=16_000)}
    mix = run(mixer, feeds, {"a"})[BLOCK * 10 :]
    assert power(mix, 440) > 0.015


def test_prebuffer_then_underrun_pads_silence_and_reprimes() -> None:
    mixer = AudioMixer(prebuffer_ms=40)
    f = frames(500, 0.3, 10)
    mixer.feed("a", f[:1])
    pcm, _ = mixer.mix({"a"}, {"a"})
    assert not pcm.any()  # 20 ms buffered < 40 ms prebuffer: not started yet
    mixer.feed("a", f[1:3])
    for _ in range(3):  # 60 ms buffered: three blocks
        pcm, _ = mixer.mix({"a"}, {"a"})
        assert pcm.any()
    pcm, _ = mixer.mix({"a"}, {"a"})  # nothing left: an underrun, silence
    assert not pcm.any()
    assert mixer.stats.underruns == 1


def test_a_fast_input_is_trimmed_to_bound_latency() -> None:
    mixer = AudioMixer(prebuffer_ms=40, max_buffer_ms=200)
    mixer.feed("a", frames(500, 0.3, 20))  # 400 ms at once
    assert mixer.buffered_ms("a") <= 200
    assert mixer.stats.trimmed_samples > 0


def test_limiter_keeps_a_loud_sum_under_full_scale_without_flat_tops() -> None:
    mixer = AudioMixer()
    feeds = {p: frames(f, 0.6, 50) for p, f in (("a", 500), ("b", 700), ("c", 1100))}
    mix = run(mixer, feeds, {"a", "b", "c"})
    assert np.max(np.abs(mix)) <= 0.9  # under -1 dBFS from the first loud block on
    assert longest_run(np.abs(mix) >= np.max(np.abs(mix)) - 2 / 32768) <= 3  # no flat tops
    assert mixer.stats.limited_blocks > 0
    tail = mix[BLOCK * 10 :]
    p = [power(tail, f) for f in (500, 700, 1100)]
    assert min(p) > 0.5 * max(p)  # every voice still there


def test_limiter_releases_after_a_loud_passage() -> None:
    limiter = SoftLimiter()
    loud = np.full(BLOCK, 1.5, np.float32)
    quiet = np.full(BLOCK, 0.1, np.float32)
    pcm, limited = limiter.process(loud)
    assert limited and np.max(pcm) <= 32767 * 0.9  # the first loud block already
    for _ in range(200):  # 4 s
        pcm, limited = limiter.process(quiet)
    assert not limited and abs(int(pcm[-1]) - round(0.1 * 32767)) <= 2


def test_speaker_tracker_holds_and_needs_a_clear_lead() -> None:
    tracker = SpeakerTracker(threshold_db=-45, margin_db=3, min_lead_s=0.4, hold_s=1.5)
    assert tracker.update({"a": -60, "b": -70}, 0.0) is None  # silence: nobody
    assert tracker.update({"a": -20, "b": -70}, 0.1) == "a"
    # b louder, but only just after the switch: a stays
    assert tracker.update({"a": -30, "b": -20}, 0.5) == "a"
    assert tracker.update({"a": -30, "b": -20}, 1.0) == "a"
    assert tracker.update({"a": -30, "b": -20}, 1.7) == "b"  # lead held, hold over
    # a blip shorter than min_lead does not switch
    assert tracker.update({"a": -10, "b": -25}, 3.5) == "b"
    assert tracker.update({"a": -40, "b": -25}, 3.7) == "b"
    # not louder by the margin: no switch
    assert tracker.update({"a": -24, "b": -25}, 5.0) == "b"
    assert tracker.update({"a": -24, "b": -25}, 6.0) == "b"
    # silence keeps the last speaker; leaving clears it
    assert tracker.update({"a": -90, "b": -90}, 7.0) == "b"
    assert tracker.update({"a": -90}, 7.1) is None
