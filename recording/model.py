"""The value types a session and its track recorders exchange: the recording's options,
each track's identity, and the counts a track reports when it ends.

They are the package's public vocabulary (``recording`` re-exports them); the recorder's
internals, which import them, are not.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RecordingOptions:
    """Tunables of a recording (defaults suit a hearing; tests shorten them)."""

    segment_seconds: float = 10.0
    queue_frames: int = 2000  # per track; at 50 audio packets/s that is 40 s of backlog
    retry_initial: float = 1.0  # first backoff after a failure, doubled each time
    retry_max: float = 30.0
    alert_repeat_seconds: float = 30.0  # while still failing, alert again at most this often
    keyframe_request_lead: float = 1.0  # ask for a keyframe this long before a cut is due
    keyframe_request_interval: float = 2.0  # and at most this often
    no_keyframe_note_seconds: float = 5.0  # note a video segment this far past its length

    def __post_init__(self) -> None:
        if self.segment_seconds <= 0 or self.queue_frames < 1:
            raise ValueError("segment_seconds and queue_frames must be positive")
        if self.retry_initial <= 0 or self.retry_max < self.retry_initial:
            raise ValueError("need 0 < retry_initial <= retry_max")


@dataclass(frozen=True, slots=True)
class TrackIdentity:
    """Who a recorded track belongs to. ``kind``: audio, video or composite."""

    key: str  # unique in the recording; also the track's directory name
    pid: str
    kind: str
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class TrackStats:
    """Counts a recorder reports when it ends (also in its ``track_ended`` entry)."""

    frames_received: int
    frames_written: int
    frames_lost: int  # should have been recorded, were not (drops, failures)
    frames_paused: int  # arrived while the recording was paused (not lost)
    frames_before_keyframe: int  # video before the first decodable keyframe (not lost)
    segments: int
    incomplete_segments: int
    discontinuities: int

    def to_dict(self) -> dict[str, int]:
        return {
            "frames_received": self.frames_received,
            "frames_written": self.frames_written,
            "frames_lost": self.frames_lost,
            "frames_paused": self.frames_paused,
            "frames_before_keyframe": self.frames_before_keyframe,
            "segments": self.segments,
            "incomplete_segments": self.incomplete_segments,
            "discontinuities": self.discontinuities,
        }
