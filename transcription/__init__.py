"""Speech-to-text for hearings: engines, the per-participant pipeline, live captions, the
hash-chained transcript and its exports. See transcription/README.md.

Imports only ``hearing_server.core`` and ``hearing_server.store`` of the application;
``app.py`` hands it each participant's decoded audio.
"""

from __future__ import annotations

from .pipeline import (
    CaptionSink,
    PipelineSettings,
    PipelineStats,
    SegmentSink,
    TranscriptionPipeline,
)
from .segments import Caption, HearingClock, SegmentStatus, Speaker, TranscriptSegment
from .service import ExportedFile, ExportFormat, TranscriptService
from .settings import TranscriptionSettings, create_engine
from .streaming import StreamAdapter, StreamSettings
from .stt import (
    STT,
    FallbackAdapter,
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
    "ExportFormat",
    "ExportedFile",
    "FallbackAdapter",
    "HearingClock",
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
    "TranscriptService",
    "TranscriptionPipeline",
    "TranscriptionSettings",
    "build_transcript",
    "create_engine",
]
