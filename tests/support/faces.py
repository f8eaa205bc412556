"""Test faces and camera videos made from them (never copied into the repository).

The photos are read from ``shared/testdata/faces`` beside the project (PROVENANCE.md there);
tests that need them skip with a clear reason where the folder is absent. The fake camera made
from a photo, and why its warps are a fair stand-in for a blink and a head turn, are in
:mod:`facekit.testing` (shared with the benchmarks).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from facekit import testing
from facekit.engine import Landmarks

ROOT = Path(__file__).resolve().parents[2]
FACES = testing.faces_dir(ROOT)


def face_path(name: str) -> Path:
    path = FACES / name
    if not path.is_file():
        pytest.skip(f"test photo {name} not found in {FACES} (shared/testdata/faces)")
    return path


def face_bytes(name: str) -> bytes:
    return face_path(name).read_bytes()


def photo(name: str) -> np.ndarray:
    return testing.read_photo(face_path(name))


def side_by_side(a: str, b: str, height: int = 600) -> bytes:
    """Two photos pasted side by side, as a JPEG: a picture with two faces."""
    ims = []
    for name in (a, b):
        with Image.open(face_path(name)) as im:
            ims.append(im.convert("RGB").resize((int(im.width * height / im.height), height)))
    out = Image.new("RGB", (sum(i.width for i in ims), height))
    x = 0
    for im in ims:
        out.paste(im, (x, 0))
        x += im.width
    return jpeg(np.asarray(out))


def jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def write_video(path: Path, frames: Sequence[np.ndarray], fps: int = 10) -> Path:
    """``frames`` as a video PyAV writes: ``.y4m`` (raw) or ``.mp4``/``.webm`` (encoded)."""
    fmt = "yuv4mpegpipe" if path.suffix == ".y4m" else None
    codec = {".y4m": "rawvideo", ".webm": "libvpx", ".mp4": "mpeg4"}[path.suffix]
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps)
        h, w = frames[0].shape[:2]
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def camera_of(name: str) -> tuple[np.ndarray, Landmarks]:
    """A 640x360 selfie frame of the photo ``name`` and the landmarks of its face."""
    return testing.camera_of(photo(name))
