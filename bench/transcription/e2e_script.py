r"""What the end-to-end benchmark's microphones say, and the microphones themselves.

The scripts are :class:`transcription.testing.Script`\ s (one 16 kHz signal per speaker and
the turns taken). A :class:`GatedMicrophone` sends silence until the
orchestrator sets ``go_at``, then plays its :class:`~transcription.testing.SpeechTrack`, so
every speaker's script starts at (nearly) the same moment although their connections came up
one after the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np
from aiortc import MediaStreamTrack

from transcription.testing import (
    COURT_SENTENCES,
    Script,
    SpeechTrack,
    Utterance,
    load_utterance,
    synthesize,
    to_16k,
)

FRAME_S = 0.02  # one WebRTC audio frame
MARGIN_S = 0.05  # kept around a synthetic sentence's speech when trimming flite's silence


def speakers_in_turn(
    voices: Sequence[tuple[str, str]], rounds: int, gap_s: float, lead_s: float = 0.5
) -> Script:
    """Speakers ``(key, flite voice)`` take turns: in round k speaker i says court sentence
    (k + 2i) mod 8 (as bench.transcription.run's live section), ``gap_s`` of silence between
    one turn's speech and the next."""
    script = Script.silent((key for key, _ in voices), lead_s)
    for k in range(rounds):
        for i, (key, voice) in enumerate(voices):
            text = COURT_SENTENCES[(k + 2 * i) % len(COURT_SENTENCES)]
            script.say(key, to_16k(*synthesize(text, voice)), text, trim_s=MARGIN_S)
            script.pause(gap_s)
    return script


def reading(
    speaker: str, utterances: Sequence[Utterance], gap_s: float, lead_s: float = 0.5
) -> Script:
    """One speaker reads the recordings one after the other, ``gap_s`` between two files
    (the recordings are sent whole, room noise and all)."""
    script = Script.silent([speaker], lead_s)
    for u in utterances:
        script.say(speaker, to_16k(*load_utterance(u)), u.reference)
        script.pause(gap_s)
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
