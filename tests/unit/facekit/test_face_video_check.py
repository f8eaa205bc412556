"""``face-match ENROL --video CLIP``: the frame pipeline and the challenge judge of the live
check, on clips made here from the test photos (facekit/testing.py says why the warps
are a fair stand-in for a blink and a head turn)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facekit.cli import main as face_match
from facekit.testing import challenge_frames
from support.faces import camera_of, face_path, write_video

GENUINE = "obama3.jpg"  # the camera; the reference is obama.jpg
SEQUENCE = ["turn_right", "blink", "turn_left"]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert face_match([str(face_path("obama.jpg")), *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def genuine_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base, lm = camera_of(GENUINE)
    out = tmp_path_factory.mktemp("clips") / "genuine.y4m"
    return write_video(out, challenge_frames(base, lm, SEQUENCE))


def test_the_genuine_person_doing_the_challenges_passes(
    capsys: pytest.CaptureFixture[str], genuine_clip: Path
) -> None:
    out = _run(capsys, "--video", str(genuine_clip), "--challenges", ",".join(SEQUENCE))
    assert out["decision"] == "same", out
    assert out["liveness"] == "passed", out
    assert out["liveness_reason"] == "passed"
    assert isinstance(out["distance"], float) and out["distance"] < 0.5


def test_the_same_clip_fails_another_order(
    capsys: pytest.CaptureFixture[str], genuine_clip: Path
) -> None:
    """Asked to blink first, the clip turns right: the wrong motion fails it there and then
    (not at the end of the clip), so a recording does not pass by doing every motion."""
    out = _run(capsys, "--video", str(genuine_clip), "--challenges", "blink,turn_left,turn_right")
    assert out["decision"] == "same"
    assert out["liveness"] == "failed"
    assert out["liveness_reason"] == "wrong_motion"


def test_a_static_photo_video_fails_liveness(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base, _ = camera_of(GENUINE)
    clip = write_video(tmp_path / "still.webm", [base] * 22 * 4, fps=4)  # 22 s
    out = _run(capsys, "--video", str(clip), "--fps", "2")
    assert out["decision"] == "same"  # it is his face ...
    assert out["liveness"] == "failed"  # ... on a photo
    assert out["liveness_reason"] == "timeout"


def test_another_person_is_different(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base, lm = camera_of("biden.jpg")
    clip = write_video(tmp_path / "other.mp4", challenge_frames(base, lm, SEQUENCE))
    out = _run(capsys, "--video", str(clip), "--challenges", ",".join(SEQUENCE))
    assert out["decision"] == "different"
    assert isinstance(out["distance"], float) and out["distance"] > 0.5


def test_photos_and_unreadable_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = _run(capsys, str(face_path("obama2.jpg")))
    assert set(out) == {"decision", "distance", "threshold"}
    assert out["decision"] == "same"
    assert face_match([str(face_path("obama.jpg")), str(tmp_path / "missing.jpg")]) == 2
    (tmp_path / "junk.y4m").write_bytes(b"YUV4MPEG2 nonsense")
    assert face_match([str(face_path("obama.jpg")), "--video", str(tmp_path / "junk.y4m")]) == 2
