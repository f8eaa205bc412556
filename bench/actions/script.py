"""What the four speakers say: turns and crosstalk while the judge acts, then all four at
once just before the close, so that recognition has a backlog at the moment of the close.

Built from :class:`transcription.testing.Script` pieces (flite voices, the court sentences)
and played by a :class:`PhasedMicrophone` per speaker.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction

import av
import numpy as np
from aiortc import MediaStreamTrack

from bench.transcription.e2e_script import FRAME_S, MARGIN_S, GatedMicrophone
from transcription.stt import SAMPLE_RATE, Samples
from transcription.testing import COURT_SENTENCES, Script, SpeechTrack, synthesize, to_16k

# Shorter than the VAD's min_silence_s (0.5 s): in the final burst each speaker's sentences
# run together into one long utterance, none of which is recognised before the speaker stops.
BURST_PAUSE_S = 0.2
# Between the talk, cut wherever the actions ended, and the burst: the VAD ends the cut
# utterance instead of running it into the burst.
BURST_GAP_S = 1.0


@functools.lru_cache(maxsize=64)
def _speech(text: str, voice: str) -> Samples:
    return to_16k(*synthesize(text, voice))


def _sentence(k: int) -> str:
    return COURT_SENTENCES[k % len(COURT_SENTENCES)]


def append(script: Script, block: Script) -> None:
    """``block`` follows ``script`` (speakers missing from ``block`` stay silent)."""
    offset = script.duration
    n = round(block.duration * SAMPLE_RATE)
    for key, signal in script.signals.items():
        part = block.signals.get(key, np.zeros(n, np.float32))
        part = np.concatenate([part, np.zeros(max(0, n - part.size), np.float32)])
        script.signals[key] = np.concatenate([signal, part])
    script.turns.extend(replace(t, start=t.start + offset, end=t.end + offset) for t in block.turns)


def _monologue(key: str, voice: str, first: int, seconds: float, gap_s: float) -> Script:
    """``key`` says sentences first, first+1, ... until at least ``seconds`` of audio."""
    part = Script.silent([key], 0.0)
    k = first
    while part.duration < seconds:
        if k > first:
            part.pause(gap_s)
        part.say(key, _speech(_sentence(k), voice), _sentence(k), trim_s=MARGIN_S)
        k += 1
    return part


def _crosstalk(voices: Sequence[tuple[str, str]], k: int) -> Script:
    """Everyone says one sentence at the same time."""
    return Script.alongside(
        _monologue(key, voice, k + 3 * i, 0.1, 0.0) for i, (key, voice) in enumerate(voices)
    )


def talk_script(
    voices: Sequence[tuple[str, str]], seconds: float, gap_s: float = 0.9, lead_s: float = 0.5
) -> Script:
    """Turns (speaker i says sentence k + 2i in block k), each block followed by crosstalk
    (all four at once), for at least ``seconds``."""
    script = Script.silent((key for key, _ in voices), lead_s)
    k = 0
    while script.duration < seconds:
        for i, (key, voice) in enumerate(voices):
            text = _sentence(k + 2 * i)
            script.say(key, _speech(text, voice), text, trim_s=MARGIN_S)
            script.pause(gap_s)
        append(script, _crosstalk(voices, k))
        script.pause(gap_s)
        k += 1
    return script


def burst_script(voices: Sequence[tuple[str, str]], seconds: float) -> Script:
    """All four talk at once for about ``seconds``, each in one breath."""
    return Script.alongside(
        _monologue(key, voice, 5 + 2 * i, seconds, BURST_PAUSE_S)
        for i, (key, voice) in enumerate(voices)
    )


class PhasedMicrophone(MediaStreamTrack):
    """The talk (a :class:`GatedMicrophone`: silent until its ``go_at``) until ``burst_at``
    is set, then ``BURST_GAP_S`` of silence, then the burst: the last words can follow the
    actions whenever those end, however long the judge's actions took."""

    kind = "audio"

    def __init__(self, talk: SpeechTrack, burst: SpeechTrack) -> None:
        super().__init__()
        self.talk = GatedMicrophone(talk)
        self.burst = burst
        self.burst_at: float | None = None
        self._count = 0
        self._last: float | None = None
        self._silence = np.zeros((1, SpeechTrack.FRAME), np.int16)

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self.burst_at is None:
            frame = await self.talk.recv()
        elif loop.time() >= self.burst_at:
            frame = await self.burst.recv()  # paces itself from its first frame on
        else:
            if self._last is not None:
                await asyncio.sleep(max(0.0, self._last + FRAME_S - loop.time()))
            frame = av.AudioFrame.from_ndarray(self._silence, format="s16", layout="mono")
            frame.sample_rate = 48000
        self._last = loop.time()
        # One continuous stream across the switches, as a real microphone's would be.
        frame.pts = self._count * SpeechTrack.FRAME
        frame.time_base = Fraction(1, 48000)
        self._count += 1
        return frame
