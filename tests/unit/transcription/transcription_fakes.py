"""Fakes for the transcription unit tests: a scriptable batch engine and synthetic audio."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from fractions import Fraction

import av
import numpy as np

from transcription.stt import (
    SAMPLE_RATE,
    STT,
    Samples,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
    STTError,
)
from transcription.testing import to_48k_stereo_s16
from transcription.vad import SegmenterSettings

SEG = SegmenterSettings(pad_s=0.2)  # what the timing expectations below assume

RNG = np.random.default_rng(7)


def tone(seconds: float, amp: float = 0.1) -> Samples:
    """A modulated tone the energy VAD takes for speech."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amp * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(
        np.float32
    )


def quiet(seconds: float) -> Samples:
    return (0.001 * RNG.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)


class FakeSTT(STT):
    """Answers ``"<n> <duration>"`` for the n-th utterance; ``script`` may raise or delay."""

    def __init__(self, *, delay: float = 0.0,
                 script: Callable[[int, Samples], None] | None = None) -> None:
        super().__init__(
            name="fake:1",
            capabilities=STTCapabilities(streaming=False, interim_results=False,
                                         languages=("en",)),
        )
        self.delay = delay
        self.script = script
        self.calls: list[float] = []
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def _recognize_blocking(self, audio: Samples, language: str | None) -> SpeechEvent:
        with self._lock:
            self.calls.append(audio.size / SAMPLE_RATE)
            n = len(self.calls)
        self.threads.add(threading.get_ident())
        if self.script is not None:
            self.script(n, audio)
        if self.delay:
            time.sleep(self.delay)
        d = audio.size / SAMPLE_RATE
        text = f"utterance {n} lasting {d:.1f}"
        return SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, 0.0, d,
                           (SpeechData(text, 0.0, d, "en"),))


def fail_with(retryable: bool) -> Callable[[int, Samples], None]:
    def script(n: int, audio: Samples) -> None:
        raise STTError("scripted failure", retryable=retryable)

    return script


def pcm_frames(audio: Samples, *, start_pts: int = 0, with_pts: bool = True) -> list[av.AudioFrame]:
    """16 kHz mono audio as the 20 ms, 48 kHz, s16 stereo frames a decoded tap yields."""
    big = to_48k_stereo_s16(audio, SAMPLE_RATE)
    chunker = av.AudioResampler(format="s16", layout="stereo", rate=48000, frame_size=960)
    out = []
    pts = start_pts
    for f in chunker.resample(big) + chunker.resample(None):
        if with_pts:
            f.pts, f.time_base = pts, Fraction(1, 48000)
        else:
            f.pts = None
        out.append(f)
        pts += f.samples
    return out
