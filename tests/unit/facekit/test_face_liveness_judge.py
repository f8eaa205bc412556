"""The liveness judge on synthetic landmark sequences: what passes, what must fail."""

from __future__ import annotations

import itertools
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


def test_turning_the_wrong_way_fails_at_once() -> None:
    challenges = (Challenge.TURN_LEFT, Challenge.BLINK)
    poses = still(5) + motion(Challenge.TURN_RIGHT) + motion(Challenge.BLINK) + still(5)
    judge = LivenessJudge(challenges)
    fed = 0
    for t, faces, landmarks in frames(poses):
        judge.feed(t, faces, landmarks)
        fed += 1
        if judge.done:
            break
    assert judge.reason == "wrong_motion"
    assert judge.step == 0
    # Within the turn (its third frame, at 0.3 the wrong way), not at the time limit.
    assert fed == 5 + 3


def test_turning_when_a_blink_is_asked_fails() -> None:
    for turn in (Challenge.TURN_LEFT, Challenge.TURN_RIGHT):
        poses = still(5) + motion(turn) + motion(Challenge.BLINK) + still(5)
        judge = judge_sequence(
            (Challenge.BLINK, Challenge.TURN_LEFT, Challenge.TURN_RIGHT), frames(poses)
        )
        assert judge.reason == "wrong_motion", turn
        assert judge.step == 0


def test_a_recording_of_every_motion_over_and_over_fits_only_its_own_turn_order() -> None:
    """A clip that blinks, turns left, turns right, again and again, within the time limit:
    without the wrong-motion rule it passed every order the server could pick (each step just
    waited for its motion to come round). Now a turn the order does not ask for fails it; only
    the orders with its turns the way round it does them remain (blinks cannot be held against
    anyone, see the next test)."""
    recorded = [Challenge.BLINK, Challenge.TURN_LEFT, Challenge.TURN_RIGHT] * 4
    poses = still(5)
    for c in recorded:
        poses += motion(c) + still(3)
    assert len(poses) / 10 < 15  # well within the 20 s
    outcomes = {}
    for order in itertools.permutations(Challenge):
        judge = judge_sequence(order, frames(poses))
        outcomes[order] = judge.reason or "passed"
    passed = {o for o, outcome in outcomes.items() if outcome == "passed"}
    assert passed == {
        (Challenge.BLINK, Challenge.TURN_LEFT, Challenge.TURN_RIGHT),
        (Challenge.TURN_LEFT, Challenge.TURN_RIGHT, Challenge.BLINK),
    }
    assert list(outcomes.values()).count("wrong_motion") == 4


def test_no_recording_fits_more_than_the_orders_of_its_own_turns() -> None:
    """Every recording of up to four motions: an order it passes asks first for the turn it
    does first, so it fits at most the three orders (of six) with its first turn first."""
    for n in range(1, 5):
        for recorded in itertools.product(list(Challenge), repeat=n):
            poses = still(5)
            for c in recorded:
                poses += motion(c) + still(3)
            fits = [
                o
                for o in itertools.permutations(Challenge)
                if judge_sequence(o, frames(poses)).passed
            ]
            assert len(fits) <= 3, recorded
            for order in fits:
                first_turn = next(c for c in recorded if c is not Challenge.BLINK)
                assert first_turn is next(c for c in order if c is not Challenge.BLINK)


def test_blinking_while_a_turn_is_asked_is_no_wrong_motion() -> None:
    """People blink without meaning to every few seconds: a blink during a turn is ignored."""
    challenges = (Challenge.TURN_RIGHT, Challenge.BLINK, Challenge.TURN_LEFT)
    poses = still(5) + motion(Challenge.BLINK) + motion(Challenge.TURN_RIGHT) + still(3)
    poses += motion(Challenge.BLINK) + still(3)
    poses += motion(Challenge.BLINK) + motion(Challenge.TURN_LEFT) + still(3)
    judge = judge_sequence(challenges, frames(poses))
    assert judge.passed, judge.reason


def test_a_small_sway_the_other_way_is_no_wrong_motion() -> None:
    """Settling in front of the camera moves the head a little either way: only a turn as
    large as an asked one (0.2 of yaw, ~15 degrees) counts as the wrong motion."""
    sway = [face(turn=t) for t in (0.05, 0.1, 0.15, 0.1, 0.05, 0.0, -0.05, -0.1, -0.15, -0.1)]
    challenges = (Challenge.TURN_LEFT, Challenge.BLINK, Challenge.TURN_RIGHT)
    poses = still(5) + sway + motion(Challenge.TURN_LEFT) + sway + motion(Challenge.BLINK)
    poses += sway + motion(Challenge.TURN_RIGHT) + still(3)
    judge = judge_sequence(challenges, frames(poses))
    assert judge.passed, judge.reason


def test_the_turn_just_done_again_is_no_wrong_motion() -> None:
    """Right after 'turn left' is done the head is still left while the next challenge is
    already asked, and a person whose screen has not shown the next prompt yet turns left once
    more: neither counts against them. A turn the other way, when a blink is asked, does."""
    for second in (Challenge.TURN_RIGHT, Challenge.BLINK):
        held = [face(turn=0.3)] * 10  # slow to come back
        done_left = still(5) + [face(turn=t) for t in (0.1, 0.2, 0.3)] + held
        done_left += [face(turn=t) for t in (0.2, 0.1, 0.0)] + still(3)
        again = motion(Challenge.TURN_LEFT) + still(3)
        poses = done_left + again + again + motion(second) + still(3)
        judge = judge_sequence((Challenge.TURN_LEFT, second), frames(poses))
        assert judge.passed, (second, judge.reason)
    poses = done_left + again + motion(Challenge.TURN_RIGHT) + still(3)
    judge = judge_sequence((Challenge.TURN_LEFT, Challenge.BLINK), frames(poses))
    assert judge.reason == "wrong_motion"
    assert judge.step == 1


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
    assert judge.reason == "wrong_motion"


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
