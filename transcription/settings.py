"""Transcription settings and the engine factory the app calls once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .engines.faster_whisper import FasterWhisperSettings
from .engines.pocketsphinx import PocketSphinxSettings
from .engines.process import EngineSpec, ProcessSTT, build
from .pipeline import PipelineSettings
from .streaming import StreamSettings
from .stt import STT

DEFAULT_PROMPT = "Transcript of a court hearing."
"""Whisper's initial prompt: context that helps it with courtroom speech."""


@dataclass(frozen=True, slots=True)
class TranscriptionSettings:
    """``engine``: "faster-whisper" (default; the bundled tiny.en model unless
    ``model_dir``) or "pocketsphinx". ``model_dir``: a CTranslate2 Whisper model directory
    the court provides (with a SHA256SUMS file to pin it); set ``language`` (e.g. "zh")
    for a multilingual model, or leave it None to detect per utterance. ``isolation``:
    "process" (default) runs the engine in a child process at ``engine_nice`` priority, so
    recognition never holds the server's GIL; "thread" runs it in a thread of the server.
    """

    enabled: bool = True
    engine: str = "faster-whisper"
    model_dir: Path | None = None
    language: str | None = None
    cpu_threads: int = 2
    beam_size: int = 1
    compute_type: str = "int8"
    initial_prompt: str | None = DEFAULT_PROMPT
    interim_interval_s: float | None = 1.0
    late_after_s: float = 4.0
    max_queued_utterances: int = 8
    spool_dir: Path | None = None
    isolation: str = "process"
    engine_nice: int = 5

    def pipeline_settings(self) -> PipelineSettings:
        return PipelineSettings(
            language=self.language,
            late_after_s=self.late_after_s,
            stream=StreamSettings(
                interim_interval_s=self.interim_interval_s,
                max_in_memory=self.max_queued_utterances,
                spool_dir=self.spool_dir,
            ),
        )


def engine_spec(settings: TranscriptionSettings) -> EngineSpec:
    if settings.engine == "faster-whisper":
        return (
            "faster-whisper",
            FasterWhisperSettings(
                model_dir=settings.model_dir,
                compute_type=settings.compute_type,
                cpu_threads=settings.cpu_threads,
                beam_size=settings.beam_size,
                language=settings.language,
                initial_prompt=settings.initial_prompt,
            ),
        )
    if settings.engine == "pocketsphinx":
        return ("pocketsphinx", PocketSphinxSettings())
    raise ValueError(f"unknown transcription engine {settings.engine!r}")


def create_engine(settings: TranscriptionSettings) -> STT:
    """The configured batch engine. Load it once (``await engine.prewarm()``), share it
    across hearings, close it at shutdown (``await engine.aclose()``)."""
    spec = engine_spec(settings)
    if settings.isolation == "process":
        return ProcessSTT(spec, nice=settings.engine_nice)
    if settings.isolation == "thread":
        return build(spec)
    raise ValueError(f"unknown isolation {settings.isolation!r}: 'process' or 'thread'")
