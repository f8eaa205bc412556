"""faster-whisper (CTranslate2) engine: the default. Batch; stream it with a StreamAdapter.

CTranslate2 releases the GIL while it computes, so recognition in the engine's thread does
not hold up the event loop. ``cpu_threads`` bounds the cores one recognition uses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models import ModelError, ModelSpec, bundled_model, local_model, verify
from ..stt import STT, SpeechData, SpeechEvent, SpeechEventType, STTCapabilities, STTError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FasterWhisperSettings:
    """``model_dir`` None: the bundled, hash-pinned tiny.en model.

    ``model_sha256`` pins a court model's files (else its ``SHA256SUMS`` file is used).
    ``language`` None: English for an English-only model, detected for a multilingual one
    (set e.g. ``"zh"`` for Mandarin hearings). ``beam_size`` 1 is greedy decoding (fastest).
    """

    model_dir: Path | None = None
    model_sha256: Mapping[str, str] | None = None
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 1
    language: str | None = None
    initial_prompt: str | None = None


class FasterWhisperSTT(STT):
    """Whisper through faster-whisper, model read from disk only (never from a hub)."""

    def __init__(
        self, settings: FasterWhisperSettings | None = None, *, executor: Executor | None = None
    ) -> None:
        self.settings = settings or FasterWhisperSettings()
        self.model_spec: ModelSpec = (
            bundled_model()
            if self.settings.model_dir is None
            else local_model(self.settings.model_dir, self.settings.model_sha256)
        )
        multilingual = _is_multilingual(self.model_spec.path)
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

    def _load(self) -> None:
        try:
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

    def _recognize_blocking(self, audio: Any, language: str | None) -> SpeechEvent:
        if self._model is None:  # prewarm() runs before every recognition; belt and braces
            self._load()
        duration = audio.size / 16000
        lang = language or self._default_language
        try:
            segments, info = self._model.transcribe(
                audio,
                language=lang,
                beam_size=self.settings.beam_size,
                vad_filter=False,
                condition_on_previous_text=False,
                without_timestamps=True,
                initial_prompt=self.settings.initial_prompt,
            )
            parts = [s for s in segments]  # the generator does the decoding
        except MemoryError as exc:
            raise STTError("out of memory", retryable=True, engine=self.name) from exc
        except (ValueError, RuntimeError) as exc:
            raise STTError(f"transcribe failed: {exc}", retryable=True, engine=self.name) from exc
        text = " ".join(p.text.strip() for p in parts if p.text.strip())
        if not text:
            return SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, 0.0, duration)
        logprob = sum(p.avg_logprob for p in parts) / len(parts)
        confidence = float(min(1.0, max(0.0, 2.718281828 ** logprob)))
        data = SpeechData(
            text=text,
            start=0.0,
            end=duration,
            language=str(getattr(info, "language", lang or "")),
            confidence=confidence,
        )
        return SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, 0.0, duration, (data,))


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
