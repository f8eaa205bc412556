"""One check judging face match and liveness from the same frames (no photos needed)."""

from __future__ import annotations

import itertools

import numpy as np

from facekit import Analysis, Challenge, Decision, FaceCheck
from support.landmarks import face

REF = np.zeros(128)


def enc(d: float) -> np.ndarray:
    """An encoding at distance ``d`` from the reference."""
    out = np.zeros(128)
    out[0] = d
    return out


def run(check: FaceCheck, frames: list[tuple[np.ndarray, float]], fps: float = 10.0) -> None:
    for i, (lm, d) in enumerate(frames):
        t = i / fps
        encoding = enc(d) if check.wants_encoding(t) else None
        check.feed(t, Analysis(1, lm, encoding))
        if check.finished():
            break


def blink_sequence(d: float) -> list[tuple[np.ndarray, float]]:
    return [(face(), d)] * 6 + [(face(eyes=0.1), d)] * 2 + [(face(), d)] * 20


def test_the_median_of_the_frontal_frames_decides() -> None:
    check = FaceCheck(REF, (Challenge.BLINK,), threshold=0.5)
    # One bad frame among good ones decides nothing.
    frames = blink_sequence(0.35)
    frames[10] = (face(), 0.9)
    run(check, frames)
    result = check.result()
    assert result.liveness_passed
    assert result.match.decision is Decision.SAME
    assert result.match.distance == 0.35
    assert result.encoded >= 3


def test_another_face_is_different_and_a_second_face_is_never_same() -> None:
    check = FaceCheck(REF, (Challenge.BLINK,))
    run(check, blink_sequence(0.8))
    assert check.result().match.decision is Decision.DIFFERENT
    check = FaceCheck(REF, (Challenge.BLINK,))
    check.feed(0.0, Analysis(1, face(), enc(0.3)))
    check.feed(0.1, Analysis(2))
    result = check.result()
    assert result.match.decision is Decision.MULTIPLE_FACES
    assert not result.liveness_passed and result.liveness_reason == "multiple_faces"


def test_turned_frames_are_not_encoded() -> None:
    check = FaceCheck(
        REF, (Challenge.TURN_LEFT, Challenge.BLINK), encode_every_s=0.0, then_every_s=0.0
    )
    check.feed(0.0, Analysis(1, face(), enc(0.3)))
    check.feed(0.1, Analysis(1, face(), enc(0.3)))
    check.feed(0.2, Analysis(1, face(turn=0.3), enc(0.45)))
    assert not check.wants_encoding(0.3)
    check.feed(0.3, Analysis(1, face(turn=0.3)))
    check.feed(0.4, Analysis(1, face()))
    assert check.wants_encoding(0.5)


def test_encodings_thin_out_once_the_decision_has_its_first() -> None:
    """Every 0.5 s until three, then every 1.5 s: on a starved machine the landmarks that
    liveness needs are not crowded out by encodings four times as dear."""
    check = FaceCheck(REF, (Challenge.TURN_LEFT, Challenge.BLINK))
    encoded = []
    for i in range(40):
        t = i * 0.25
        if check.wants_encoding(t):
            encoded.append(t)
            check.feed(t, Analysis(1, face(), enc(0.3)))
        else:
            check.feed(t, Analysis(1, face()))
    assert encoded[:3] == [0.0, 0.5, 1.0]
    assert all(b - a >= 1.5 for a, b in itertools.pairwise(encoded[2:]))
    assert encoded[3:] == [2.5, 4.0, 5.5, 7.0, 8.5]


def test_no_frames_and_no_face() -> None:
    result = FaceCheck(REF, (Challenge.BLINK,)).result()
    assert result.match.decision is Decision.NO_FACE
    assert result.liveness_reason == "no_frames"
    check = FaceCheck(REF, (Challenge.BLINK,))
    for i in range(5):
        check.feed(i * 0.1, Analysis(0))
    check.tick(21.0)
    result = check.result()
    assert result.match.decision is Decision.NO_FACE
    assert result.liveness_reason == "timeout"


def test_a_wrong_motion_fails_liveness_and_the_face_still_gets_its_encodings() -> None:
    """Turning right when a blink is asked ends liveness there; the check goes on only until
    the face decision has its three encodings (not one frame's, and not 'no face')."""
    check = FaceCheck(REF, (Challenge.BLINK, Challenge.TURN_LEFT, Challenge.TURN_RIGHT))
    frames = [(face(), 0.3)] * 3 + [(face(turn=-t), 0.3) for t in (0.1, 0.2, 0.3, 0.3)]
    frames += [(face(), 0.3)] * 30
    changes = []
    fed = 0
    for i, (lm, d) in enumerate(frames):
        t = i / 10
        encoding = enc(d) if check.wants_encoding(t) else None
        changes.append(check.feed(t, Analysis(1, lm, encoding)))
        fed += 1
        if check.finished():
            break
    assert check.judge.reason == "wrong_motion"
    assert changes.count(True) == 1  # the participant is told once, not on every frame after
    result = check.result()
    assert not result.liveness_passed and result.liveness_reason == "wrong_motion"
    assert result.match.decision is Decision.SAME
    assert result.encoded == 3
    assert fed < 20  # it stopped once the face had its encodings, not at the end
