"""What the end-to-end benchmark's microphones say, and the microphones themselves.

A :class:`Script` holds one 16 kHz mono signal per speaker, all the same length (silence
while someone else speaks), and the turns: who says what, from when to when, in seconds
from the start of the script. A :class:`GatedMicrophone` sends silence until the
orchestrator sets ``go_at``, then plays its :class:`~transcription.testing.SpeechTrack`, so
every speaker's script starts at (nearly) the same moment although their connections came up
one after the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np
from aiortc import MediaStreamTrack

from transcription.stt import SAMPLE_RATE, Samples
from transcription.testing import (
    COURT_SENTENCES,
    SpeechTrack,
    Utterance,
    load_utterance,
    silence,
    synthesize,
    to_16k,
)

FRAME_S = 0.02  # one WebRTC audio frame
MARGIN_S = 0.05  # kept around a synthetic sentence's speech when trimming flite's silence


@dataclass(frozen=True, slots=True)
class Turn:
    """One utterance of the script: ``start``/``end`` bound the speech itself (not the
    silence around it in the source file), in seconds from the start of the script."""

    speaker: str
    text: str
    start: float
    end: float


@dataclass
class Script:
    """Every speaker's signal (16 kHz mono, equal lengths) and the turns they take."""

    signals: dict[str, Samples] = field(default_factory=dict)
    turns: list[Turn] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Length of the script in seconds."""
        return max((s.size for s in self.signals.values()), default=0) / SAMPLE_RATE

    def said_by(self, speaker: str) -> str:
        """Everything ``speaker`` says, in order: the reference for their WER."""
        return " ".join(t.text for t in self.turns if t.speaker == speaker)


def speech_bounds(samples: Samples, rate: int = SAMPLE_RATE) -> tuple[float, float]:
    """(first, last) moment of speech in ``samples``, in seconds: 10 ms frames louder than
    -30 dB of the loudest frame and three times the noise floor (10th percentile), so a
    recording's room noise and flite's padding do not count as speech."""
    n = rate // 100
    usable = samples[: samples.size // n * n].reshape(-1, n)
    rms = np.sqrt(np.mean(usable.astype(np.float64) ** 2, axis=1))
    threshold = max(0.03 * float(rms.max()), 3.0 * float(np.percentile(rms, 10)))
    loud = np.nonzero(rms > threshold)[0]
    if loud.size == 0:
        return 0.0, samples.size / rate
    return float(loud[0] * n / rate), float((loud[-1] + 1) * n / rate)


def _append(script: Script, speaker: str, audio: Samples, text: str, *, trim: bool) -> None:
    """``speaker`` says ``audio`` now; everyone else is silent for as long."""
    start, end = speech_bounds(audio)
    if trim:
        # flite pads each sentence with ~0.2 s of silence; cut it so the gap between turns
        # is the gap the caller asked for.
        lo = max(0, int((start - MARGIN_S) * SAMPLE_RATE))
        hi = min(audio.size, int((end + MARGIN_S) * SAMPLE_RATE))
        audio = audio[lo:hi]
        start, end = start - lo / SAMPLE_RATE, end - lo / SAMPLE_RATE
    t = _length(script)
    for key, signal in script.signals.items():
        part = audio if key == speaker else np.zeros(audio.size, np.float32)
        script.signals[key] = np.concatenate([signal, part])
    script.turns.append(Turn(speaker, text, t + start, t + end))


def _pause(script: Script, seconds: float) -> None:
    for key, signal in script.signals.items():
        script.signals[key] = np.concatenate([signal, silence(seconds)])


def _length(script: Script) -> float:
    return next(iter(script.signals.values())).size / SAMPLE_RATE


def speakers_in_turn(
    voices: Sequence[tuple[str, str]], rounds: int, gap_s: float, lead_s: float = 0.5
) -> Script:
    """Speakers ``(key, flite voice)`` take turns: in round k speaker i says court sentence
    (k + 2i) mod 8 (as bench.transcription.run's live section), ``gap_s`` of silence between
    one turn's speech and the next."""
    script = Script({key: silence(lead_s) for key, _ in voices})
    for k in range(rounds):
        for i, (key, voice) in enumerate(voices):
            text = COURT_SENTENCES[(k + 2 * i) % len(COURT_SENTENCES)]
            _append(script, key, to_16k(*synthesize(text, voice)), text, trim=True)
            _pause(script, gap_s)
    return script


def reading(
    speaker: str, utterances: Sequence[Utterance], gap_s: float, lead_s: float = 0.5
) -> Script:
    """One speaker reads the recordings one after the other, ``gap_s`` between two files
    (the recordings are sent whole, room noise and all)."""
    script = Script({speaker: silence(lead_s)})
    for u in utterances:
        _append(script, speaker, to_16k(*load_utterance(u)), u.reference, trim=False)
        _pause(script, gap_s)
    return script


class GatedMicrophone(MediaStreamTrack):
    """Silence in real time until ``go_at`` (loop time), then the wrapped SpeechTrack.

    Frames are renumbered (pts) so the stream stays continuous across the switch. The
    speech's wall time is ``speech.started`` + the script's offsets.
    """

    kind = "audio"

    def __init__(self, speech: SpeechTrack) -> None:
        super().__init__()
        self.speech = speech
        self.go_at: float | None = None
        self._t0: float | None = None
        self._count = 0
        self._silence = np.zeros((1, SpeechTrack.FRAME), np.int16)

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self.go_at is None or self.speech.started is None:
            if self._t0 is None:
                self._t0 = loop.time()
            delay = self._t0 + self._count * FRAME_S - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        if self.go_at is not None and loop.time() >= self.go_at:
            frame = await self.speech.recv()  # paces itself from its first frame on
        else:
            frame = av.AudioFrame.from_ndarray(self._silence, format="s16", layout="mono")
            frame.sample_rate = 48000
        frame.pts = self._count * SpeechTrack.FRAME
        frame.time_base = Fraction(1, 48000)
        self._count += 1
        return frame
