"""The speech-to-text interface every engine implements (modelled on livekit/agents ``stt``).

Audio is always 16 kHz mono float32 in [-1, 1] (:data:`SAMPLE_RATE`); times in results are
seconds from the start of the audio given (for a stream: from its first sample).

- :class:`STT` is the engine: its :attr:`STT.capabilities` say what it can do;
  :meth:`STT.recognize` transcribes one finished utterance (batch) and runs the blocking
  engine code in the engine's own executor, never on the event loop;
  :meth:`STT.stream` opens a :class:`RecognizeStream` when ``capabilities.streaming``.
- A :class:`RecognizeStream` takes audio with :meth:`RecognizeStream.push_audio` and yields
  :class:`SpeechEvent` objects (start/end of speech, interim and final transcripts) as an
  async iterator.
- Adapters are themselves STTs: :class:`transcription.streaming.StreamAdapter` (VAD + batch
  engine = streaming engine) and :class:`FallbackAdapter` (the next engine when one fails).
- Engines raise :class:`STTError`; ``retryable`` says whether the same call may succeed
  if tried again (a transient failure) or never will (a bad model, bad input).
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
"""The sample rate of all audio given to an engine."""

Samples = npt.NDArray[np.float32]
"""Mono audio at :data:`SAMPLE_RATE`, float32 in [-1, 1]."""


class STTError(Exception):
    """Recognition failed. ``retryable``: trying the same call again may succeed."""

    def __init__(self, message: str, *, retryable: bool, engine: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.engine = engine

    def __reduce__(self) -> tuple[Any, tuple[str, bool, str]]:
        # Keeps the flag across a process boundary (the engine may run in a child process).
        return (_rebuild_error, (self.message, self.retryable, self.engine))

    def __str__(self) -> str:
        kind = "retryable" if self.retryable else "permanent"
        where = f"{self.engine}: " if self.engine else ""
        return f"{where}{self.message} ({kind})"


def _rebuild_error(message: str, retryable: bool, engine: str) -> STTError:
    return STTError(message, retryable=retryable, engine=engine)


@dataclass(frozen=True, slots=True)
class STTCapabilities:
    """What an engine can do.

    ``languages``: ISO 639-1 codes it recognises, or ``("*",)`` for a multilingual model
    that also detects the language. ``offline``: needs no network at run time.
    """

    streaming: bool
    interim_results: bool
    languages: tuple[str, ...]
    word_timestamps: bool = False
    offline: bool = True

    def supports(self, language: str | None) -> bool:
        return language is None or "*" in self.languages or language in self.languages


class SpeechEventType(StrEnum):
    START_OF_SPEECH = "start_of_speech"
    INTERIM_TRANSCRIPT = "interim_transcript"
    FINAL_TRANSCRIPT = "final_transcript"
    END_OF_SPEECH = "end_of_speech"
    RECOGNITION_FAILED = "recognition_failed"  # the utterance's audio could not be transcribed


@dataclass(frozen=True, slots=True)
class SpeechData:
    """One hypothesis. ``start``/``end`` in seconds from the start of the audio or stream."""

    text: str
    start: float
    end: float
    language: str = ""
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class SpeechEvent:
    """What recognition produced.

    ``segment_id`` numbers the utterances of a stream (interim and final results of one
    utterance share it); ``start``/``end`` delimit the utterance in stream seconds (for a
    batch call: the audio given). ``alternatives`` is best first; empty when nothing was
    said or recognition failed (then ``error`` says why). ``processing_s``: engine time.
    ``audio``: on a stream's final results, the utterance's 16 kHz audio (the pipeline keeps
    it for the final transcript pass); None otherwise.
    """

    type: SpeechEventType
    start: float
    end: float
    alternatives: tuple[SpeechData, ...] = ()
    segment_id: int = 0
    error: STTError | None = None
    processing_s: float = 0.0
    engine: str = ""
    audio: Samples | None = field(default=None, compare=False, repr=False)

    @property
    def text(self) -> str:
        return self.alternatives[0].text if self.alternatives else ""


class RecognizeStream(ABC):
    """A streaming recognition session: push audio in, iterate :class:`SpeechEvent` out.

    ``push_audio`` never blocks and never drops audio. ``flush`` ends the current utterance
    (e.g. the speaker was muted); ``end_input`` flushes and closes the input: iteration ends
    once every pending utterance has a final result. ``aclose`` stops at once.
    """

    @abstractmethod
    def push_audio(self, samples: Samples) -> None: ...

    @abstractmethod
    def flush(self) -> None: ...

    @abstractmethod
    def end_input(self) -> None: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[SpeechEvent]: ...

    @property
    def backlog(self) -> int:
        """Utterances waiting for recognition (0 when recognition keeps up)."""
        return 0


@dataclass(slots=True)
class STTStats:
    """Counters an engine keeps: recognitions, audio seconds in, engine seconds spent."""

    recognitions: int = 0
    failures: int = 0
    audio_s: float = 0.0
    processing_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Decoding:
    """Per-call hints for the engines that take them (Whisper); others ignore them.

    ``prompt``: the initial prompt (context: the hearing's vocabulary and names), instead of
    the engine's own. ``beam_size``: instead of the engine's (the final transcript pass
    decodes with a wider beam than the live captions, on the same loaded model).
    """

    prompt: str | None = None
    beam_size: int | None = None


class STT(ABC):
    """A speech-to-text engine.

    Subclasses implement :meth:`_recognize_blocking` (called in the engine's executor, one
    call at a time with the default single-worker executor) and, optionally, :meth:`_load`
    (called once, in the executor, before the first recognition: load the model there).
    """

    def __init__(
        self,
        *,
        name: str,
        capabilities: STTCapabilities,
        executor: Executor | None = None,
    ) -> None:
        self.name = name
        self.capabilities = capabilities
        self._own_executor = executor is None
        self._executor: Executor = executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"stt-{name.split(':')[0]}"
        )
        self._pending = 0
        self._loaded = False
        self._load_lock = asyncio.Lock()
        self._closed = False
        self.stats = STTStats()

    @property
    def pending_requests(self) -> int:
        """Recognitions submitted and not finished (across all streams using this engine)."""
        return self._pending

    def _load(self) -> None:  # noqa: B027 - optional hook
        """Load the model (runs in the executor). Raise :class:`STTError` on failure."""

    async def prewarm(self) -> None:
        """Load the model now rather than at the first recognition."""
        if self._loaded:
            return
        async with self._load_lock:
            if self._loaded:
                return
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self._executor, self._load)
            except STTError:
                raise
            except Exception as exc:
                raise STTError(f"cannot load: {exc}", retryable=False, engine=self.name) from exc
            self._loaded = True

    @abstractmethod
    def _recognize_blocking(self, audio: Samples, language: str | None) -> SpeechEvent:
        """Transcribe one utterance; blocking; runs in the executor."""

    def _recognize_with(
        self, audio: Samples, language: str | None, decoding: Decoding | None
    ) -> SpeechEvent:
        """As :meth:`_recognize_blocking`, with the caller's hints; engines that take hints
        override this (the default ignores them)."""
        return self._recognize_blocking(audio, language)

    async def recognize(
        self, audio: Samples, *, language: str | None = None, decoding: Decoding | None = None
    ) -> SpeechEvent:
        """Transcribe one finished utterance (batch). Raises :class:`STTError`."""
        if self._closed:
            raise STTError("engine is closed", retryable=False, engine=self.name)
        if not self.capabilities.supports(language):
            raise STTError(
                f"language {language!r} not supported", retryable=False, engine=self.name
            )
        audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        self._pending += 1
        try:
            await self.prewarm()
            t0 = time.perf_counter()
            try:
                event = await self._run(audio, language, decoding)
            except STTError:
                self.stats.failures += 1
                raise
            except Exception as exc:
                self.stats.failures += 1
                log.exception("%s: recognition raised", self.name)
                raise STTError(f"engine raised: {exc}", retryable=True, engine=self.name) from exc
            spent = time.perf_counter() - t0
            self.stats.recognitions += 1
            self.stats.audio_s += audio.size / SAMPLE_RATE
            self.stats.processing_s += spent
            return SpeechEvent(
                type=event.type,
                start=event.start,
                end=event.end,
                alternatives=event.alternatives,
                segment_id=event.segment_id,
                error=event.error,
                processing_s=spent,
                engine=event.engine or self.name,
            )
        finally:
            self._pending -= 1

    async def _run(
        self, audio: Samples, language: str | None, decoding: Decoding | None = None
    ) -> SpeechEvent:
        """Run :meth:`_recognize_with` off the loop (the process engine overrides this)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._recognize_with, audio,
                                          language, decoding)

    def stream(
        self, *, language: str | None = None, decoding: Decoding | None = None
    ) -> RecognizeStream:
        """Open a streaming session. Batch-only engines raise; wrap them in a StreamAdapter."""
        raise NotImplementedError(
            f"{self.name} does not stream: wrap it in transcription.streaming.StreamAdapter"
        )

    async def aclose(self) -> None:
        """Release the engine. Idempotent. Waits for a running recognition to finish."""
        if self._closed:
            return
        self._closed = True
        if self._own_executor:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: self._executor.shutdown(wait=True)
            )


class FallbackAdapter(STT):
    """Tries engines in order: on a failure, the same utterance goes to the next engine.

    Its capabilities are the first engine's; the engine that produced a result is named in
    :attr:`last_engine`.
    """

    def __init__(self, engines: Sequence[STT]) -> None:
        if not engines:
            raise ValueError("FallbackAdapter needs at least one engine")
        first = engines[0]
        super().__init__(
            name="fallback(" + ",".join(e.name for e in engines) + ")",
            capabilities=STTCapabilities(
                streaming=False,
                interim_results=False,
                languages=first.capabilities.languages,
                offline=all(e.capabilities.offline for e in engines),
            ),
        )
        self.engines = tuple(engines)
        self.last_engine = first.name
        self.failures = [0] * len(engines)  # per engine

    def _recognize_blocking(self, audio: Samples, language: str | None) -> SpeechEvent:
        raise AssertionError("FallbackAdapter.recognize delegates")  # pragma: no cover

    async def prewarm(self) -> None:
        await self.engines[0].prewarm()

    @property
    def pending_requests(self) -> int:
        return sum(e.pending_requests for e in self.engines)

    async def recognize(
        self, audio: Samples, *, language: str | None = None, decoding: Decoding | None = None
    ) -> SpeechEvent:
        last: STTError | None = None
        for i, engine in enumerate(self.engines):
            try:
                event = await engine.recognize(audio, language=language, decoding=decoding)
            except STTError as exc:
                self.failures[i] += 1
                log.warning("fallback: %s failed (%s), trying the next engine", engine.name, exc)
                last = exc
                continue
            self.last_engine = engine.name
            return event
        assert last is not None
        raise STTError(f"every engine failed; last: {last}", retryable=last.retryable,
                       engine=self.name)

    async def aclose(self) -> None:
        for e in self.engines:
            await e.aclose()
        await super().aclose()


class LanguageRouter(STT):
    """Sends each recognition to the engine for its language: ``by_language[language]``,
    else ``default`` (also for ``language=None``, detection). One loaded model per engine,
    shared by every hearing; e.g. the English-only tiny.en model for English hearings and
    multilingual Whisper base for Mandarin ones."""

    def __init__(self, default: STT, by_language: Mapping[str, STT]) -> None:
        engines = [default, *(e for e in by_language.values() if e is not default)]
        super().__init__(
            name="router(" + ",".join(e.name for e in engines) + ")",
            capabilities=STTCapabilities(
                streaming=False,
                interim_results=False,
                languages=tuple(sorted({lang for e in engines
                                        for lang in e.capabilities.languages})),
                word_timestamps=all(e.capabilities.word_timestamps for e in engines),
                offline=all(e.capabilities.offline for e in engines),
            ),
        )
        self.default = default
        self.by_language = dict(by_language)
        self.engines = tuple(engines)

    def engine_for(self, language: str | None) -> STT:
        if language is not None and language in self.by_language:
            return self.by_language[language]
        return self.default

    def _recognize_blocking(self, audio: Samples, language: str | None) -> SpeechEvent:
        raise AssertionError("LanguageRouter.recognize delegates")  # pragma: no cover

    async def prewarm(self) -> None:
        for e in self.engines:
            await e.prewarm()

    @property
    def pending_requests(self) -> int:
        return sum(e.pending_requests for e in self.engines)

    async def recognize(
        self, audio: Samples, *, language: str | None = None, decoding: Decoding | None = None
    ) -> SpeechEvent:
        return await self.engine_for(language).recognize(audio, language=language,
                                                         decoding=decoding)

    async def aclose(self) -> None:
        for e in self.engines:
            await e.aclose()
        await super().aclose()
