"""PocketSphinx engine: light, English only, less accurate. Uses the model its PyPI package
ships (en-us acoustic model, dictionary and language model); other models by path."""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..audio import samples_to_pcm16
from ..stt import (
    SAMPLE_RATE,
    STT,
    Samples,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
    STTError,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PocketSphinxSettings:
    """Paths override the packaged en-us model (acoustic model dir, language model, dict)."""

    hmm: Path | None = None
    lm: Path | None = None
    dict: Path | None = None


class PocketSphinxSTT(STT):
    """Batch PocketSphinx; one decoder, used only from the engine's single worker thread."""

    def __init__(
        self, settings: PocketSphinxSettings | None = None, *, executor: Executor | None = None
    ) -> None:
        super().__init__(
            name="pocketsphinx:en-us",
            capabilities=STTCapabilities(streaming=False, interim_results=False,
                                         languages=("en",)),
            executor=executor,
        )
        self.settings = settings or PocketSphinxSettings()
        self._decoder: Any = None

    def _load(self) -> None:
        try:
            from pocketsphinx import Config, Decoder  # type: ignore[import-untyped]
        except ImportError as exc:
            raise STTError("pocketsphinx is not installed", retryable=False,
                           engine=self.name) from exc
        kwargs: dict[str, Any] = {"samprate": SAMPLE_RATE, "loglevel": "FATAL"}
        for key in ("hmm", "lm", "dict"):
            value = getattr(self.settings, key)
            if value is not None:
                kwargs[key] = str(value)
        try:
            self._decoder = Decoder(Config(**kwargs))
        except Exception as exc:
            raise STTError(f"cannot load model: {exc}", retryable=False,
                           engine=self.name) from exc

    def _recognize_blocking(self, audio: Samples, language: str | None) -> SpeechEvent:
        if self._decoder is None:
            self._load()
        duration = audio.size / SAMPLE_RATE
        d = self._decoder
        try:
            d.start_utt()
            d.process_raw(samples_to_pcm16(audio), no_search=False, full_utt=True)
            d.end_utt()
            hyp = d.hyp()
        except RuntimeError as exc:
            raise STTError(f"decode failed: {exc}", retryable=True, engine=self.name) from exc
        text = " ".join(hyp.hypstr.split()) if hyp is not None and hyp.hypstr else ""
        if not text:
            return SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, 0.0, duration)
        data = SpeechData(text=text, start=0.0, end=duration, language="en")
        return SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, 0.0, duration, (data,))
