"""What a recording reports when something goes wrong (and when it is right again)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from .clock import iso


class AlertKind(StrEnum):
    WRITE_FAILED = "write_failed"  # a segment could not be opened, written or closed
    RECOVERED = "recovered"  # writing works again after WRITE_FAILED; says what was lost
    FRAMES_DROPPED = "frames_dropped"  # the recorder fell behind, or the tap dropped frames
    MANIFEST_FAILED = "manifest_failed"  # the manifest could not be written (kept, retried)
    SIGN_FAILED = "sign_failed"  # the manifest could not be signed
    TRACK_FAILED = "track_failed"  # a track's frame source raised, or its codec is unknown
    FINISH_FAILED = "finish_failed"  # stopping failed: the last segments may be unsigned


_INFO = frozenset({AlertKind.RECOVERED})


@dataclass(frozen=True, slots=True)
class RecordingAlert:
    """One event the judge and clerk must hear about at once (and the audit log records).

    ``message`` is a complete English sentence for people; the other fields are for
    programs. ``lost_frames`` / ``lost_seconds`` say how much of the record is missing
    because of this event (for RECOVERED: the whole outage).
    """

    kind: AlertKind
    hearing_id: str
    recording_id: str
    message: str
    at: datetime
    track: str | None = None
    pid: str | None = None
    error: str | None = None
    retry_in: float | None = None
    lost_frames: int = 0
    lost_seconds: float = 0.0

    @property
    def severity(self) -> str:
        """``"error"`` (recording is or was broken) or ``"info"`` (it works again)."""
        return "info" if self.kind in _INFO else "error"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for signaling and the audit log."""
        return {
            "kind": self.kind.value,
            "severity": self.severity,
            "hearing_id": self.hearing_id,
            "recording_id": self.recording_id,
            "message": self.message,
            "at": iso(self.at),
            "track": self.track,
            "pid": self.pid,
            "error": self.error,
            "retry_in": self.retry_in,
            "lost_frames": self.lost_frames,
            "lost_seconds": round(self.lost_seconds, 3),
        }
