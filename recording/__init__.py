"""Recording: the official record of a hearing, written by remuxing (never decoding) each
participant's encoded media and the courtroom composite into segments, every segment hashed
into a hash-chained manifest signed with the server's Ed25519 key.

Public API (the composition root wires it; this package imports nothing of the media layer
at all and receives frames as ``AsyncIterator[EncodedFrameLike]``, a protocol the media
layer's ``EncodedFrame`` satisfies):

- :class:`RecordingSession`: start / pause / resume / stop, add_track / add_composite /
  remove_track; alerts through an async ``on_alert(RecordingAlert)``.
- :func:`load_or_create_signing_key`, :func:`public_key_pem`, :func:`key_fingerprint`.
- :func:`verify_recording` / :func:`inspect_recording`, ``recording.cli.main``.
- :class:`RecordingCatalog` for listing and safe downloads.
"""

from .alerts import AlertKind, RecordingAlert
from .catalog import RecordingCatalog, RecordingInfo, RecordingNotFound, SegmentInfo, TrackInfo
from .clock import HearingClock
from .frames import EncodedFrameLike
from .model import RecordingOptions, TrackIdentity, TrackStats
from .paths import check_safe_name
from .recovery import Interrupted, close_interrupted
from .session import (
    AlertCallback,
    RecordingSession,
    RecordingStartError,
    RecordingStateError,
    RecordingSummary,
    SessionState,
    new_recording_id,
)
from .signing import (
    SigningKeyError,
    key_fingerprint,
    load_or_create_signing_key,
    load_public_key,
    public_key_pem,
)
from .verify import (
    Problem,
    ProblemKind,
    Severity,
    Status,
    VerifyReport,
    inspect_recording,
    verify_recording,
)

__all__ = [
    "AlertCallback",
    "AlertKind",
    "EncodedFrameLike",
    "HearingClock",
    "Interrupted",
    "Problem",
    "ProblemKind",
    "RecordingAlert",
    "RecordingCatalog",
    "RecordingInfo",
    "RecordingNotFound",
    "RecordingOptions",
    "RecordingSession",
    "RecordingStartError",
    "RecordingStateError",
    "RecordingSummary",
    "SegmentInfo",
    "SessionState",
    "Severity",
    "SigningKeyError",
    "Status",
    "TrackIdentity",
    "TrackInfo",
    "TrackStats",
    "VerifyReport",
    "check_safe_name",
    "close_interrupted",
    "inspect_recording",
    "key_fingerprint",
    "load_or_create_signing_key",
    "load_public_key",
    "new_recording_id",
    "public_key_pem",
    "verify_recording",
]
