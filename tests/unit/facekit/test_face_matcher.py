"""Face match on the test photos (shared/testdata/faces): same person, another person, no
face, several faces; through the worker process as the server runs it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import numpy as np
import pytest

from facekit import DEFAULT_THRESHOLD, Decision, FaceWorker, Matcher, analyse_photo_bytes
from facekit.engine import Analysis
from support.faces import face_bytes, jpeg, photo, side_by_side


def _analyse(data: bytes) -> Analysis:
    result = analyse_photo_bytes(data, None)
    assert result.problem is None
    assert result.analysis is not None
    return result.analysis


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    found = _analyse(face_bytes("obama.jpg"))
    assert found.faces == 1 and found.encoding is not None
    return found.encoding


@pytest.mark.parametrize("probe", ["obama2.jpg", "obama3.jpg", "obama_partial_face.jpg"])
def test_the_same_person_is_same(reference: np.ndarray, probe: str) -> None:
    result = Matcher().match(reference, _analyse(face_bytes(probe)))
    assert result.decision is Decision.SAME
    assert result.distance is not None and result.distance < 0.46
    assert result.threshold == DEFAULT_THRESHOLD


def test_another_person_is_different(reference: np.ndarray) -> None:
    result = Matcher().match(reference, _analyse(face_bytes("biden.jpg")))
    assert result.decision is Decision.DIFFERENT
    assert result.distance is not None and result.distance > 0.7


def test_no_face(reference: np.ndarray) -> None:
    # The top left corner of a photo (the wall behind), and a plain frame.
    corner = photo("obama.jpg")[:250, :250]
    for img in (corner, np.full((300, 400, 3), 128, np.uint8)):
        result = Matcher().match(reference, _analyse(jpeg(img)))
        assert result.decision is Decision.NO_FACE
        assert result.distance is None


def test_two_faces_side_by_side_are_multiple(reference: np.ndarray) -> None:
    found = _analyse(side_by_side("obama2.jpg", "biden.jpg"))
    assert found.faces == 2
    result = Matcher().match(reference, found)
    assert result.decision is Decision.MULTIPLE_FACES
    assert result.to_json() == {
        "decision": "multiple_faces",
        "distance": None,
        "threshold": DEFAULT_THRESHOLD,
    }


async def test_the_worker_process_gives_the_same_answer_and_stops() -> None:
    worker = FaceWorker()
    try:
        result = await worker.photo(face_bytes("obama2.jpg"))
        assert result.problem is None and result.analysis is not None
        assert result.analysis.faces == 1
        direct = _analyse(face_bytes("obama2.jpg"))
        assert direct.encoding is not None and result.analysis.encoding is not None
        assert np.allclose(result.analysis.encoding, direct.encoding, atol=1e-6)
        bad = await worker.photo(b"not an image")
        assert bad.problem is not None and bad.problem.reason == "not_an_image"
        pid = worker.pid
        assert pid is not None and pid != os.getpid()
    finally:
        await worker.aclose()
    proc = Path(f"/proc/{pid}")
    for _ in range(50):
        if not proc.exists():  # noqa: ASYNC240 (a /proc lookup)
            break
        await asyncio.sleep(0.1)
    assert not proc.exists()  # noqa: ASYNC240
