"""Liveness: a random challenge sequence, judged from facial landmarks across frames.

The server picks the order of the challenges (blink; turn the head left; turn it right), so a
recording made beforehand does not fit it, and judges each from the 68 landmarks of the one
face in each frame:

- **blink**: the eye aspect ratio (EAR, Soukupová and Čech 2016: the eye's height over its
  width, from six landmarks per eye) falls to at most ``blink_close`` of the open-eye baseline
  and comes back to at least ``blink_open`` of it;
- **turn left / right**: the yaw, read from the landmark geometry: where the tip of the nose
  (landmark 30) falls on the line between the two ends of the jaw contour (0 and 16), as
  -1 (at landmark 0) .. +1 (at 16), 0 when the nose is midway. When a head turns, the nose,
  which stands out from the face, moves across the face outline (parallax); the measure is the
  same under any shift, scaling or in-plane rotation of the image, so a photo moved, tilted or
  brought closer to the camera barely moves it. The camera's picture is not mirrored: the
  person's left is the image's right, towards landmark 16, so turning left raises the yaw.

A still photo or a static video held to the camera never changes either measure, so it fails
at the time limit (``timeout``). A head turn that was not asked (the other way, or any turn
when a blink is asked) fails at once (``wrong_motion``): otherwise a recording that does every
motion over and over would pass whatever order the server picks, and the random order would
protect nothing. Two motions are not held against anyone: a blink while a turn is asked
(people blink without meaning to every few seconds), and the turn just done, again (the head
still coming back, or a person whose screen has not shown the next prompt yet doing it once
more). Neither lets a recording fit an order it was not made for: the turns it does must
still come in the order asked. Pure: time comes in with each frame.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

TIME_LIMIT_S = 20.0


class Challenge(StrEnum):
    BLINK = "blink"
    TURN_LEFT = "turn_left"  # the person's own left
    TURN_RIGHT = "turn_right"


PROMPTS: dict[Challenge, dict[str, str]] = {
    Challenge.BLINK: {"zh-CN": "请眨眼", "en": "Please blink"},
    Challenge.TURN_LEFT: {"zh-CN": "请向左转头", "en": "Please turn your head to the left"},
    Challenge.TURN_RIGHT: {"zh-CN": "请向右转头", "en": "Please turn your head to the right"},
}


def new_challenges(rng: random.Random | None = None) -> tuple[Challenge, ...]:
    """Every challenge once, in an order nobody can predict."""
    chosen = list(Challenge)
    (rng or secrets.SystemRandom()).shuffle(chosen)
    return tuple(chosen)


def parse_challenges(text: str) -> tuple[Challenge, ...]:
    """``"blink,turn_left"`` (also ``left``/``right``) to challenges; raises ValueError."""
    aliases = {"left": Challenge.TURN_LEFT, "right": Challenge.TURN_RIGHT}
    out = []
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        out.append(aliases.get(name) or Challenge(name))
    if not out:
        raise ValueError("name at least one challenge")
    return tuple(out)


Points = NDArray[np.float64]

_LEFT_EYE = slice(36, 42)  # in the image's left half: the person's right eye
_RIGHT_EYE = slice(42, 48)


def _eye_ratio(eye: Points) -> float:
    p1, p2, p3, p4, p5, p6 = eye
    width = float(np.linalg.norm(p1 - p4))
    if width <= 0:
        return 0.0
    return float((np.linalg.norm(p2 - p6) + np.linalg.norm(p3 - p5)) / (2.0 * width))


def eye_aspect_ratio(landmarks: Points) -> float:
    """The mean EAR of both eyes: ~0.25-0.35 open, under ~0.15 closed."""
    return (_eye_ratio(landmarks[_LEFT_EYE]) + _eye_ratio(landmarks[_RIGHT_EYE])) / 2.0


def yaw(landmarks: Points) -> float:
    """-1 .. +1: the nose tip's place between the jaw's ends (0 frontal, + the person's left)."""
    a, b, nose = landmarks[0], landmarks[16], landmarks[30]
    axis = b - a
    length2 = float(axis @ axis)
    if length2 <= 0:
        return 0.0
    t = float((nose - a) @ axis) / length2
    return max(-1.0, min(1.0, (t - 0.5) * 2.0))


@dataclass(frozen=True, slots=True)
class LivenessSettings:
    time_limit_s: float = TIME_LIMIT_S
    blink_close: float = 0.75  # EAR at most this fraction of the open baseline: eyes closed
    blink_open: float = 0.9  # and then at least this fraction again: open
    turn: float = 0.2  # yaw change from the frontal baseline that counts as a turn (~15°)
    frontal: float = 0.12  # within this of the baseline: facing the camera
    # A turn this far from the baseline that was not asked fails the check (wrong_motion).
    wrong_turn: float = 0.2
    baseline_frames: int = 2  # frames seen before a blink can count


@dataclass
class LivenessJudge:
    """Judges one challenge sequence from the frames of one check."""

    challenges: tuple[Challenge, ...]
    settings: LivenessSettings = field(default_factory=LivenessSettings)
    start: float | None = None
    step: int = 0
    reason: str | None = None  # why it failed
    completed_at: list[float] = field(default_factory=list)
    _ears: list[float] = field(default_factory=list)
    _yaws: list[float] = field(default_factory=list)
    _closed: bool = False

    @property
    def passed(self) -> bool:
        return self.reason is None and self.step >= len(self.challenges)

    @property
    def failed(self) -> bool:
        return self.reason is not None

    @property
    def done(self) -> bool:
        return self.passed or self.failed

    @property
    def current(self) -> Challenge | None:
        return None if self.done else self.challenges[self.step]

    def deadline(self) -> float | None:
        return None if self.start is None else self.start + self.settings.time_limit_s

    def _baseline_yaw(self) -> float:
        return float(np.median(self._yaws)) if self._yaws else 0.0

    def _baseline_ear(self) -> float | None:
        if len(self._ears) < self.settings.baseline_frames:
            return None
        return float(np.percentile(self._ears, 80))

    def is_frontal(self, landmarks: Points) -> bool:
        """Does this face look at the camera (as far as the baseline knows)?"""
        return abs(yaw(landmarks) - self._baseline_yaw()) <= self.settings.frontal

    def tick(self, t: float) -> None:
        """Time passes (also without frames): the limit may run out."""
        if self.start is None:
            self.start = t
        if not self.done and t - self.start > self.settings.time_limit_s:
            self.reason = "timeout"

    def fail(self, reason: str) -> None:
        if not self.done:
            self.reason = reason

    def feed(self, t: float, faces: int, landmarks: Points | None) -> bool:
        """One frame at time ``t`` (seconds, any origin) with ``faces`` faces and the landmarks
        of the one face. Returns True when a challenge was completed with this frame."""
        self.tick(t)
        if self.done:
            return False
        if faces > 1:
            self.reason = "multiple_faces"
            return False
        if faces == 0 or landmarks is None:
            return False
        ear = eye_aspect_ratio(landmarks)
        y = yaw(landmarks)
        if not self._yaws:
            # The first face only sets the baseline: measured against an empty baseline (0),
            # a face already turned would pass a "turn" without moving at all.
            self._yaws.append(y)
            self._ears.append(ear)
            return False
        challenge = self.challenges[self.step]
        base_yaw = self._baseline_yaw()
        turned = y - base_yaw
        frontal = abs(turned) <= self.settings.frontal
        if len(self._yaws) >= self.settings.baseline_frames and self._wrong_turn(challenge, turned):
            self.reason = "wrong_motion"
            return False
        completed = False
        if challenge is Challenge.BLINK:
            base_ear = self._baseline_ear()
            if base_ear is not None and base_ear > 0:
                if ear <= base_ear * self.settings.blink_close:
                    self._closed = True
                elif self._closed and ear >= base_ear * self.settings.blink_open:
                    completed = True
        else:
            sign = 1.0 if challenge is Challenge.TURN_LEFT else -1.0
            if (y - base_yaw) * sign >= self.settings.turn:
                completed = True
        # Baselines learn only from frames facing the camera with the eyes not closing.
        if frontal or not self._yaws:
            self._yaws.append(y)
            base_ear = self._baseline_ear()
            if base_ear is None or ear > base_ear * self.settings.blink_close:
                self._ears.append(ear)
        if completed:
            self.step += 1
            self._closed = False
            self.completed_at.append(t)
        return completed

    def _wrong_turn(self, challenge: Challenge, turned: float) -> bool:
        """Is a head turned ``turned`` from the baseline a turn not asked for now, nor the
        one just done?"""
        limit = self.settings.wrong_turn
        if turned >= limit:
            direction = Challenge.TURN_LEFT
        elif turned <= -limit:
            direction = Challenge.TURN_RIGHT
        else:
            return False
        just_done = self.challenges[self.step - 1] if self.step else None
        return direction is not challenge and direction is not just_done

    def progress(self) -> dict[str, object]:
        return {
            "challenges": [c.value for c in self.challenges],
            "completed": self.step,
            "current": None if self.current is None else self.current.value,
        }


def judge_sequence(
    challenges: Sequence[Challenge],
    frames: Sequence[tuple[float, int, Points | None]],
    settings: LivenessSettings | None = None,
) -> LivenessJudge:
    """Feed a whole sequence (tests, offline clips) and return the judge."""
    judge = LivenessJudge(tuple(challenges), settings or LivenessSettings())
    for t, faces, landmarks in frames:
        judge.feed(t, faces, landmarks)
        if judge.done:
            break
    if not judge.done:
        judge.fail("incomplete" if frames else "no_frames")
    return judge
