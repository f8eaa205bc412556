"""The final transcript pass: a hearing's stored utterances re-recognised after it, better.

Live captions are decoded fast (beam 1, each utterance alone). Once the hearing's live
recognition has drained, :class:`FinalPass` gives every stored utterance to the same loaded
model again with a wider beam (5) and a longer context (the hearing's prompt plus the text
just before it), and hands each new text to ``revise`` (the application appends it to the
transcript's chain as a ``revision``: the live text stays in the chain, the transcript and its
exports read the final text).

It must never slow the live captions of another hearing: the engine runs one recognition at a
time, so the pass recognises an utterance only while ``is_idle()`` says so (no hearing is
being transcribed and the engine has nothing queued), checks again before each utterance, and
so delays a hearing that starts meanwhile by one recognition at most.

:class:`UtteranceStore` keeps each stored segment's audio (16-bit PCM, 16 kHz, ~32 kB per
second of speech) under the data dir until the pass is done, then deletes it; the recording
remains the record of the hearing's audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .audio import pcm16_to_samples, samples_to_pcm16
from .chinese import is_chinese
from .stt import STT, Decoding, Samples, STTError

log = logging.getLogger(__name__)

Revise = Callable[[int, str, str], Awaitable[None]]
"""(segment sequence number, final text, engine name): store the final pass's text."""

CONTEXT_CHARS = 60
"""How much of the preceding final text goes into the prompt (Whisper keeps 223 prompt
tokens; the hearing's prompt takes up to 120 characters)."""


class UtteranceStore:
    """Each transcript segment's audio, by hearing and sequence number, until its final pass.

    Files are written whole to a temporary name and renamed, so a crash leaves no half
    utterance that a later pass would read as whole.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, hearing_id: str) -> Path:
        if not hearing_id or "/" in hearing_id or hearing_id.startswith("."):
            raise ValueError(f"bad hearing id {hearing_id!r}")
        return self.root / hearing_id

    async def put(self, hearing_id: str, seq: int, samples: Samples) -> None:
        await asyncio.to_thread(self._put, hearing_id, seq, samples)

    def _put(self, hearing_id: str, seq: int, samples: Samples) -> None:
        folder = self._dir(hearing_id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = folder / f".{seq}.pcm.tmp"
        tmp.write_bytes(samples_to_pcm16(samples))
        os.replace(tmp, folder / f"{seq}.pcm")

    def sequences(self, hearing_id: str) -> list[int]:
        folder = self._dir(hearing_id)
        if not folder.is_dir():
            return []
        return sorted(int(f.stem) for f in folder.glob("*.pcm") if f.stem.isdigit())

    def load(self, hearing_id: str, seq: int) -> Samples:
        return pcm16_to_samples((self._dir(hearing_id) / f"{seq}.pcm").read_bytes())

    def discard(self, hearing_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self._dir(hearing_id))


@dataclass(frozen=True, slots=True)
class PassLine:
    """A segment the final pass may revise: its sequence number, its language (as
    recognised live) and its current text (the context for the next one)."""

    seq: int
    language: str
    text: str


@dataclass(slots=True)
class PassStats:
    revised: int = 0
    unchanged: int = 0
    failed: int = 0
    audio_s: float = 0.0
    processing_s: float = 0.0


class FinalPass:
    """Runs the final pass of one hearing at a time on a shared engine (see the module)."""

    def __init__(
        self,
        engine: STT,
        utterances: UtteranceStore,
        *,
        is_idle: Callable[[], bool],
        beam_size: int = 5,
        idle_poll_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self.utterances = utterances
        self.is_idle = is_idle
        self.beam_size = beam_size
        self.idle_poll_s = idle_poll_s
        self._lock = asyncio.Lock()  # one pass at a time: they share one engine

    async def run(
        self,
        hearing_id: str,
        lines: Sequence[PassLine],
        *,
        prompt: str | None,
        revise: Revise,
    ) -> PassStats:
        """Re-recognise every line whose audio is stored (in speaking order), ``revise`` the
        ones whose text changes, then delete the hearing's stored audio."""
        stats = PassStats()
        stored = set(self.utterances.sequences(hearing_id))
        async with self._lock:
            previous = ""
            for line in lines:
                if line.seq not in stored:
                    previous = line.text
                    continue
                await self._wait_idle()
                audio = await asyncio.to_thread(self.utterances.load, hearing_id, line.seq)
                language = line.language or None
                decoding = Decoding(prompt=_with_context(prompt, previous, language),
                                    beam_size=self.beam_size)
                try:
                    event = await self.engine.recognize(audio, language=language,
                                                        decoding=decoding)
                except STTError as exc:
                    stats.failed += 1
                    log.warning("hearing %s: final pass of segment %d failed: %s",
                                hearing_id, line.seq, exc)
                    previous = line.text
                    continue
                stats.audio_s += audio.size / 16000
                stats.processing_s += event.processing_s
                text = event.text.strip()
                if text and text != line.text:
                    await revise(line.seq, text, event.engine or self.engine.name)
                    stats.revised += 1
                    previous = text
                else:
                    stats.unchanged += 1
                    previous = line.text
        await asyncio.to_thread(self.utterances.discard, hearing_id)
        log.info("hearing %s: final pass revised %d, kept %d, failed %d segment(s)",
                 hearing_id, stats.revised, stats.unchanged, stats.failed)
        return stats

    async def _wait_idle(self) -> None:
        # Idleness is a condition over other objects (hearings being transcribed, the
        # engine's queue) that signal nothing when it turns true: polled, once a second.
        while not self.is_idle():  # noqa: ASYNC110
            await asyncio.sleep(self.idle_poll_s)


def _with_context(prompt: str | None, previous: str, language: str | None) -> str | None:
    """The hearing's prompt and the end of what was said just before (same language only:
    the hearing's prompt is Mandarin)."""
    if not is_chinese(language):
        return None
    tail = previous[-CONTEXT_CHARS:]
    return (prompt or "") + tail if tail else prompt
