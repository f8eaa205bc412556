"""Face match and liveness for identity checks (issue 12 part 2).

Ground floor: imports nothing of ``hearing_server`` (only :mod:`lifeline`, for its worker
process). Detection, landmarks and 128-d encodings come from ``face_recognition`` (dlib, CPU)
and run in :class:`FaceWorker`'s child process, never on the server's event loop. The
:class:`Matcher` compares encodings with a threshold; the :class:`LivenessJudge` judges a
random challenge sequence (blink; turn the head left; right) from landmarks across frames;
:class:`FaceCheck` judges both from the frames of one camera. Reference photos are read by
:func:`load_image` (JPEG/PNG, 5 MB, no decompression bombs).
"""

from __future__ import annotations

from .check import CheckResult, FaceCheck, run_check
from .engine import Analysis, Encoding, Landmarks
from .images import MAX_IMAGE_BYTES, REFERENCE_FORMATS, ImageProblem, load_image
from .liveness import (
    PROMPTS,
    TIME_LIMIT_S,
    Challenge,
    LivenessJudge,
    LivenessSettings,
    eye_aspect_ratio,
    new_challenges,
    parse_challenges,
    yaw,
)
from .matcher import DEFAULT_THRESHOLD, Decision, Matcher, MatchResult, distance
from .worker import FaceWorker, FaceWorkerError, PhotoResult, analyse_photo_bytes

__all__ = [
    "DEFAULT_THRESHOLD",
    "MAX_IMAGE_BYTES",
    "PROMPTS",
    "REFERENCE_FORMATS",
    "TIME_LIMIT_S",
    "Analysis",
    "Challenge",
    "CheckResult",
    "Decision",
    "Encoding",
    "FaceCheck",
    "FaceWorker",
    "FaceWorkerError",
    "ImageProblem",
    "Landmarks",
    "LivenessJudge",
    "LivenessSettings",
    "MatchResult",
    "Matcher",
    "PhotoResult",
    "analyse_photo_bytes",
    "distance",
    "eye_aspect_ratio",
    "load_image",
    "new_challenges",
    "parse_challenges",
    "run_check",
    "yaw",
]
