"""Speech-to-text for hearings: engines, the per-participant pipeline, live captions, the
hash-chained transcript and its exports. See transcription/README.md.

A ground-floor library: it never imports ``hearing_server``. The application's transcript
service (``hearing_server.service.transcripts``) keeps the chain and checks who may read it;
the wiring hands the pipeline each participant's decoded audio.
"""

from __future__ import annotations

from mediakit import HearingClock

from .pipeline import (
    CaptionSink,
    PipelineSettings,
    PipelineStats,
    SegmentSink,
    TranscriptionPipeline,
)
from .segments import Caption, SegmentStatus, Speaker, TranscriptSegment
from .settings import TranscriptionSettings, create_engine
from .streaming import StreamAdapter, StreamSettings
from .stt import (
    STT,
    Decoding,
    FallbackAdapter,
    LanguageRouter,
    RecognizeStream,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
    STTError,
)
from .transcript import Transcript, TranscriptLine, build_transcript

__all__ = [
    "STT",
    "Caption",
    "CaptionSink",
    "Decoding",
    "FallbackAdapter",
    "HearingClock",
    "LanguageRouter",
    "PipelineSettings",
    "PipelineStats",
    "RecognizeStream",
    "STTCapabilities",
    "STTError",
    "SegmentSink",
    "SegmentStatus",
    "Speaker",
    "SpeechData",
    "SpeechEvent",
    "SpeechEventType",
    "StreamAdapter",
    "StreamSettings",
    "Transcript",
    "TranscriptLine",
    "TranscriptSegment",
    "TranscriptionPipeline",
    "TranscriptionSettings",
    "build_transcript",
    "create_engine",
]
