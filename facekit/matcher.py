"""Same person or not: the Euclidean distance between two 128-d encodings against a threshold.

dlib's encoder is trained so that two photos of one person are usually closer than 0.6 and of
two people farther; ``face_recognition`` uses 0.6. We use a stricter default, chosen from the
curve measured on our test photos and their variants (docs/identity.md "Face match").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from .engine import Analysis, Encoding

DEFAULT_THRESHOLD = 0.5
"""The default distance at or under which two faces are the same person (docs/identity.md)."""


class Decision(StrEnum):
    SAME = "same"
    DIFFERENT = "different"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"


@dataclass(frozen=True, slots=True)
class MatchResult:
    decision: Decision
    distance: float | None
    threshold: float

    def to_json(self) -> dict[str, object]:
        return {
            "decision": self.decision.value,
            "distance": None if self.distance is None else round(self.distance, 4),
            "threshold": self.threshold,
        }


def distance(a: Encoding, b: Encoding) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def check_threshold(threshold: float) -> float:
    if not 0.0 < threshold < 2.0:
        raise ValueError("the threshold is a distance between 0 and 2")
    return threshold


class Matcher:
    """Decides whether probes show the person of the reference encoding."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = check_threshold(threshold)

    def decide(self, dist: float) -> Decision:
        return Decision.SAME if dist <= self.threshold else Decision.DIFFERENT

    def match(self, reference: Encoding, probe: Analysis) -> MatchResult:
        """One probe (a still, or one frame)."""
        if probe.faces == 0:
            return MatchResult(Decision.NO_FACE, None, self.threshold)
        if probe.faces > 1:
            return MatchResult(Decision.MULTIPLE_FACES, None, self.threshold)
        assert probe.encoding is not None, "analyse the probe with its encoding"
        dist = distance(reference, probe.encoding)
        return MatchResult(self.decide(dist), dist, self.threshold)
