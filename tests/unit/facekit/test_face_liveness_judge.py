"""The liveness judge on synthetic landmark sequences: what passes, what must fail."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from facekit import PROMPTS, Challenge, LivenessJudge, eye_aspect_ratio, new_challenges, yaw
from facekit.liveness import judge_sequence, parse_challenges
from support.landmarks import face


def similar(pts: np.ndarray, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """The same face moved rigidly: what a photo shaken in front of the camera does."""
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return (pts - pts.mean(0)) @ rot.T * scale + pts.mean(0) + np.array(shift)


def frames(poses: list[np.ndarray], fps: float = 10.0, start: float = 100.0):
    return [(start + i / fps, 1, p) for i, p in enumerate(poses)]


def still(n: int) -> list[np.ndarray]:
    return [face()] * n


def motion(challenge: Challenge) -> list[np.ndarray]:
    if challenge is Challenge.BLINK:
        return [face(eyes=0.5), face(eyes=0.15), face(eyes=0.5), face(), face()]
    sign = 1 if challenge is Challenge.TURN_LEFT else -1
    return [face(turn=sign * t) for t in (0.1, 0.2, 0.3, 0.3, 0.2, 0.1, 0.0)]


def test_measures() -> None:
    assert eye_aspect_ratio(face()) == pytest.approx(0.45, abs=0.01)
    assert eye_aspect_ratio(face(eyes=0.1)) < 0.1
    assert yaw(face()) == pytest.approx(0.0, abs=1e-9)
    assert yaw(face(turn=0.3)) == pytest.approx(0.3, abs=1e-6)
    assert yaw(face(turn=-0.3)) == pytest.approx(-0.3, abs=1e-6)
    # Invariant under what a photo held to the camera can do: shift, scale, rotate in plane.
    moved = similar(face(turn=0.1), 0.3, 1.7, (40, -25))
    assert yaw(moved) == pytest.approx(0.1, abs=1e-6)
    assert eye_aspect_ratio(moved) == pytest.approx(eye_aspect_ratio(face()), abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_the_sequence_asked_for_passes(seed: int) -> None:
    challenges = new_challenges(random.Random(seed))
    poses = still(8)
    for c in challenges:
        poses += motion(c) + still(3)
    judge = judge_sequence(challenges, frames(poses))
    assert judge.passed, judge.reason
    assert judge.step == 3
    assert len(judge.completed_at) == 3


def test_a_still_face_fails_at_the_time_limit() -> None:
    judge = judge_sequence(new_challenges(), frames(still(25 * 10)))
    assert judge.failed
    assert judge.reason == "timeout"
    assert judge.step == 0


def test_a_photo_moved_about_fails() -> None:
    """Shifted, scaled, rotated, every frame: neither measure moves, nothing completes."""
    rng = random.Random(7)
    poses = [
        similar(face(), rng.uniform(-0.4, 0.4), rng.uniform(0.7, 1.4), (rng.uniform(-60, 60), 0))
        for _ in range(220)
    ]
    judge = judge_sequence(new_challenges(), frames(poses))
    assert judge.reason == "timeout"
    assert judge.step == 0


def test_turning_the_wrong_way_does_not_count() -> None:
    challenges = (Challenge.TURN_LEFT, Challenge.BLINK)
    poses = still(5) + motion(Challenge.TURN_RIGHT) + motion(Challenge.BLINK) + still(5)
    judge = judge_sequence(challenges, frames(poses))
    assert not judge.passed
    assert judge.step == 0


def test_a_face_already_turned_does_not_pass_a_turn_without_moving() -> None:
    """The first face sets the baseline: a photo (or a person) already turned to the left
    must still turn; holding still at that angle completes nothing."""
    judge = judge_sequence((Challenge.TURN_LEFT, Challenge.BLINK), frames([face(turn=0.3)] * 60))
    assert judge.step == 0 and not judge.passed


def test_the_order_matters() -> None:
    """A recording of blink-left-right does not answer right-left-blink."""
    recorded = (Challenge.BLINK, Challenge.TURN_LEFT, Challenge.TURN_RIGHT)
    poses = still(5)
    for c in recorded:
        poses += motion(c) + still(3)
    judge = judge_sequence(
        (Challenge.TURN_RIGHT, Challenge.TURN_LEFT, Challenge.BLINK), frames(poses)
    )
    assert not judge.passed


def test_closing_the_eyes_without_opening_them_is_no_blink() -> None:
    poses = still(5) + [face(eyes=0.1)] * 30
    judge = judge_sequence((Challenge.BLINK,), frames(poses))
    assert not judge.passed


def test_a_second_face_fails_the_check() -> None:
    judge = LivenessJudge((Challenge.BLINK,))
    judge.feed(0.0, 1, face())
    judge.feed(0.1, 2, None)
    assert judge.reason == "multiple_faces"


def test_frames_without_a_face_count_time_only() -> None:
    judge = LivenessJudge((Challenge.BLINK,))
    for i in range(5):
        judge.feed(i * 0.1, 1, face())
    judge.feed(10.0, 0, None)
    assert not judge.done
    judge.feed(20.6, 0, None)
    assert judge.reason == "timeout"


def test_challenges_are_every_one_in_a_random_order() -> None:
    seen = {new_challenges() for _ in range(60)}
    assert all(sorted(s) == sorted(Challenge) for s in seen)
    assert len(seen) > 1
    assert parse_challenges("blink, left,turn_right") == tuple(Challenge)
    with pytest.raises(ValueError):
        parse_challenges("wink")


def test_every_challenge_has_a_prompt_in_both_languages() -> None:
    assert PROMPTS[Challenge.BLINK]["zh-CN"] == "请眨眼"
    assert PROMPTS[Challenge.TURN_LEFT]["zh-CN"] == "请向左转头"
    assert PROMPTS[Challenge.TURN_RIGHT]["zh-CN"] == "请向右转头"
    assert all(p["en"] for p in PROMPTS.values())
