"""Faces in one image: where they are, their 68 landmarks and, on request, a 128-d encoding.

A thin layer over ``face_recognition`` (dlib's HOG detector, its 68-point shape predictor and
its ResNet face encoder, all on the CPU). Importing ``face_recognition`` loads the models
(~100 MB, a second or two), so it happens on first use, in the face worker's process; nothing
here is called on the server's event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .images import RGB, fit

Box = tuple[int, int, int, int]  # top, right, bottom, left (face_recognition's order)
Landmarks = NDArray[np.float64]  # (68, 2): x, y in the analysed image's pixels
Encoding = NDArray[np.float64]  # (128,)

FRAME_SIDE = 640
"""Video frames are analysed at most this wide/high: a face at arm's length fills a good part
of a phone's frame, and HOG detection on 640x360 takes ~0.05-0.1 s on one core."""

_fr: Any = None


def _lib() -> Any:
    global _fr
    if _fr is None:
        import warnings

        with warnings.catch_warnings():
            # face_recognition_models finds its files through pkg_resources (setuptools < 81).
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            import face_recognition

        _fr = face_recognition
    return _fr


def load_models() -> None:
    """Load the models now (the worker does this at start, so the first check is not slow)."""
    _lib()


@dataclass(frozen=True, slots=True)
class Face:
    box: Box
    landmarks: Landmarks


@dataclass(frozen=True, slots=True)
class Analysis:
    """What one image or frame holds: how many faces, and for exactly one, its landmarks and
    (when asked for) its encoding. Small and picklable: this crosses the worker's pipe."""

    faces: int
    landmarks: Landmarks | None = None
    encoding: Encoding | None = None
    box: Box | None = None
    width: int = 0
    height: int = 0


def detect(rgb: RGB, *, upsample: int = 0) -> list[Face]:
    """Every face in ``rgb`` with its 68 landmarks."""
    fr = _lib()
    boxes = fr.face_locations(rgb, number_of_times_to_upsample=upsample, model="hog")
    if not boxes:
        return []
    faces = []
    predictor = fr.api.pose_predictor_68_point
    for box in boxes:
        rect = fr.api._css_to_rect(box)
        shape = predictor(rgb, rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        faces.append(Face(tuple(int(v) for v in box), points))  # type: ignore[arg-type]
    return faces


def encode(rgb: RGB, face: Face) -> Encoding:
    """The 128-d encoding of ``face`` (dlib's ResNet, one jitter)."""
    fr = _lib()
    encodings = fr.face_encodings(rgb, known_face_locations=[face.box], model="large")
    return np.asarray(encodings[0], dtype=np.float64)


def analyse(
    rgb: RGB, *, encode_face: bool, upsample: int = 0, max_side: int = FRAME_SIDE
) -> Analysis:
    """Faces in one frame; the encoding only when ``encode_face`` and exactly one face."""
    img = fit(rgb, max_side)
    height, width = img.shape[:2]
    faces = detect(img, upsample=upsample)
    if len(faces) != 1:
        return Analysis(len(faces), width=width, height=height)
    face = faces[0]
    enc = encode(img, face) if encode_face else None
    return Analysis(1, face.landmarks, enc, face.box, width, height)


def analyse_photo(rgb: RGB) -> Analysis:
    """A still photo (reference or probe), always encoded; looked at harder (upsampled once)
    when no face is found at its own size."""
    found = analyse(rgb, encode_face=True, max_side=max(rgb.shape[:2]))
    if found.faces == 0:
        found = analyse(rgb, encode_face=True, upsample=1, max_side=max(rgb.shape[:2]))
    return found
