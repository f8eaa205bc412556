"""Transcription settings and the engine factory the app calls once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .engines.faster_whisper import FasterWhisperSettings
from .engines.pocketsphinx import PocketSphinxSettings
from .engines.process import EngineSpec, ProcessSTT, build
from .pipeline import PipelineSettings
from .streaming import StreamSettings
from .stt import STT, LanguageRouter

DEFAULT_PROMPT = "Transcript of a court hearing."
"""Whisper's initial prompt: context that helps it with courtroom speech."""


@dataclass(frozen=True, slots=True)
class TranscriptionSettings:
    """``engine``: "faster-whisper" (default) or "pocketsphinx" (English only).

    faster-whisper with ``data_dir`` set runs two models: multilingual Whisper base (joined
    from its packages into ``<data_dir>/models``) for every language but English, and the
    bundled tiny.en for English (``english_model`` "base": base for English too). Without
    ``data_dir`` only tiny.en (English). ``model_dir``: a CTranslate2 Whisper model
    directory the court provides instead of base (pinned by ``model_sha256`` or its
    SHA256SUMS file). ``language``: the engine's default when a hearing names none (None:
    detect per utterance). ``isolation``:
    "process" (default) runs the engine in a child process at ``engine_nice`` priority, so
    recognition never holds the server's GIL; "thread" runs it in a thread of the server.
    """

    enabled: bool = True
    engine: str = "faster-whisper"
    model_dir: Path | None = None
    model_sha256: Mapping[str, str] | None = None
    data_dir: Path | None = None
    english_model: str = "tiny.en"
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
    #: nice 10 (CFS weight 110 against the event loop's 1024): recognition takes what the
    #: forwarding loop leaves (issue 29), captions come later on a busy machine instead
    engine_nice: int = 10

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


def engine_spec(settings: TranscriptionSettings, *, english: bool = False) -> EngineSpec:
    """The engine for every language (``english`` False) or the English one."""
    if settings.engine == "faster-whisper":
        multilingual = not english and (settings.model_dir is not None
                                        or settings.data_dir is not None)
        if english and settings.english_model == "base" and settings.data_dir is not None:
            multilingual = True
        return (
            "faster-whisper",
            FasterWhisperSettings(
                model_dir=settings.model_dir if multilingual else None,
                model="base" if multilingual else "tiny.en",
                data_dir=settings.data_dir,
                model_sha256=settings.model_sha256 if multilingual else None,
                compute_type=settings.compute_type,
                cpu_threads=settings.cpu_threads,
                beam_size=settings.beam_size,
                language=settings.language if multilingual else "en",
                # An English prompt would pull a multilingual model towards English; the
                # hearing gives it a prompt in its own language instead.
                initial_prompt=None if multilingual else settings.initial_prompt,
                guard_hallucinations=multilingual,
            ),
        )
    if settings.engine == "pocketsphinx":
        return ("pocketsphinx", PocketSphinxSettings())
    raise ValueError(f"unknown transcription engine {settings.engine!r}")


def create_engine(settings: TranscriptionSettings) -> STT:
    """The configured batch engine. Load it once (``await engine.prewarm()``), share it
    across hearings, close it at shutdown (``await engine.aclose()``).

    With a multilingual model and a separate English one: a :class:`LanguageRouter` that
    sends ``language="en"`` to the English engine and everything else to the other.
    """
    if settings.isolation not in ("process", "thread"):
        raise ValueError(f"unknown isolation {settings.isolation!r}: 'process' or 'thread'")
    main = _make(settings, engine_spec(settings))
    english_spec = engine_spec(settings, english=True)
    if english_spec == engine_spec(settings):
        return main
    return LanguageRouter(main, {"en": _make(settings, english_spec)})


def _make(settings: TranscriptionSettings, spec: EngineSpec) -> STT:
    if settings.isolation == "process":
        return ProcessSTT(spec, nice=settings.engine_nice)
    return build(spec)
