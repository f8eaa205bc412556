"""Test faces and camera videos made from them (never copied into the repository).

The photos are read from ``shared/testdata/faces`` beside the project (PROVENANCE.md there);
tests that need them skip with a clear reason where the folder is absent.

A fake camera from a photo: the face cropped as a phone's front camera frames it, on 640x360.
Its challenge motions are image warps that move the face's features the way the real motion
moves them in the picture, which is all the landmark-based judge can ever see:

- a **blink** is the upper eyelid coming down over the eye: the eye opening is covered with the
  skin just above it (feathered) and a dark lash line is drawn along the lower lid;
- a **head turn** is parallax: the nose, which stands out from the face, moves sideways across
  the face more than the cheeks and the jaw contour behind it. A horizontal displacement that
  is largest at the nose tip and falls off (Gaussian) towards the face's edges does that. A
  rigid motion of the whole photo (shift, scale, in-plane rotation, a photo tilted towards the
  camera) does not, and that is what a photo held to the camera can do.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
FACES = Path(os.environ.get("HEARING_TEST_FACES", ROOT.parent / "shared" / "testdata" / "faces"))
if not FACES.is_dir():  # a worktree beside the main checkout
    FACES = Path("/work/shared/testdata/faces")

WIDTH, HEIGHT = 640, 360
TURN = 0.2  # nose displacement, as a fraction of the face's width
TURN_SPREAD = 0.28  # the Gaussian's width, as a fraction of the face's width


def face_path(name: str) -> Path:
    path = FACES / name
    if not path.is_file():
        pytest.skip(f"test photo {name} not found in {FACES} (shared/testdata/faces)")
    return path


def face_bytes(name: str) -> bytes:
    return face_path(name).read_bytes()


def photo(name: str) -> np.ndarray:
    with Image.open(face_path(name)) as im:
        return np.asarray(im.convert("RGB"))


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


def selfie(name: str, box: tuple[int, int, int, int]) -> np.ndarray:
    """The photo cropped around the face ``box`` (top, right, bottom, left in the photo's
    pixels), the way a phone's front camera frames a face, on a 640x360 frame."""
    with Image.open(face_path(name)) as im:
        im = im.convert("RGB")
        top, right, bottom, left = box
        cx, cy = (left + right) / 2, (top + bottom) / 2
        half = (bottom - top) * 1.4
        im = im.crop((int(cx - half * 1.2), int(cy - half), int(cx + half * 1.2), int(cy + half)))
        im = im.resize((int(im.width * HEIGHT / im.height), HEIGHT))
    frame = Image.new("RGB", (WIDTH, HEIGHT), (90, 90, 90))
    frame.paste(im, ((WIDTH - im.width) // 2, 0))
    return np.asarray(frame)


def _remap(img: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """out(x, y) = img(x - dx, y - dy), bilinear."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    sx = np.clip(xx - dx, 0, w - 1)
    sy = np.clip(yy - dy, 0, h - 1)
    x0 = np.floor(sx).astype(int)
    y0 = np.floor(sy).astype(int)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx = (sx - x0)[..., None]
    fy = (sy - y0)[..., None]
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return np.asarray(top * (1 - fy) + bottom * fy, dtype=np.uint8)


def turn(img: np.ndarray, landmarks: np.ndarray, amount: float) -> np.ndarray:
    """The head turned: + towards the image's right (the person's left)."""
    nose = landmarks[30]
    fw = float(np.linalg.norm(landmarks[16] - landmarks[0]))
    fh = float(np.linalg.norm(landmarks[8] - landmarks[27]))
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    g = np.exp(
        -(((xx - nose[0]) / (TURN_SPREAD * fw)) ** 2 + ((yy - nose[1]) / (0.55 * fh)) ** 2) / 2
    )
    return _remap(img, amount * fw * g, np.zeros_like(g))


def blink(img: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Both eyes closed: the eyelid skin above each eye drawn down over it, a lash line."""
    out = img.astype(np.float64)
    for eye in (landmarks[36:42], landmarks[42:48]):
        x0, x1 = eye[:, 0].min(), eye[:, 0].max()
        y0, y1 = eye[:, 1].min(), eye[:, 1].max()
        ew, eh = x1 - x0, max(y1 - y0, 3.0)
        bx0, bx1 = int(x0 - 0.25 * ew), int(x1 + 0.25 * ew) + 1
        by0, by1 = int(y0 - 1.0 * eh), int(y1 + 0.8 * eh) + 1
        rows = by1 - by0
        above = img[by0 - rows : by0, bx0:bx1].astype(np.float64)
        yy, xx = np.mgrid[0:rows, 0 : bx1 - bx0]
        wy = np.minimum(1, np.minimum(yy, rows - 1 - yy) / (0.25 * rows))
        wx = np.minimum(1, np.minimum(xx, bx1 - bx0 - 1 - xx) / (0.2 * (bx1 - bx0)))
        weight = (wy * wx)[..., None]
        out[by0:by1, bx0:bx1] = out[by0:by1, bx0:bx1] * (1 - weight) + above * weight
    im = Image.fromarray(out.astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for eye in (landmarks[36:42], landmarks[42:48]):
        lid = [tuple(eye[0]), tuple(eye[5]), tuple(eye[4]), tuple(eye[3])]
        draw.line([(float(x), float(y)) for x, y in lid], fill=(40, 30, 30), width=3)
    return np.asarray(im)


def challenge_frames(
    base: np.ndarray, landmarks: np.ndarray, challenges: Sequence[str], fps: int = 10
) -> list[np.ndarray]:
    """A clip of ``base`` doing ``challenges`` in order: 1 s still, then each motion (a blink:
    0.3 s closed; a turn: 0.4 s there, 0.4 s held, 0.4 s back), 0.4 s still between, 1 s at
    the end."""
    still = [base] * fps
    frames = list(still)
    closed = blink(base, landmarks)
    for name in challenges:
        if name == "blink":
            frames += [closed] * max(2, round(0.3 * fps))
        else:
            sign = 1.0 if name == "turn_left" else -1.0
            n = max(2, round(0.4 * fps))
            ramp = [turn(base, landmarks, sign * TURN * (i + 1) / n) for i in range(n)]
            frames += ramp + [ramp[-1]] * n + ramp[::-1]
        frames += [base] * max(2, round(0.4 * fps))
    return frames + still


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


def camera_of(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A 640x360 selfie frame of the photo ``name`` and the landmarks of its face."""
    from facekit import engine

    img = photo(name)
    found = engine.analyse_photo(img)
    assert found.box is not None, f"no face in {name}"
    scale = max(img.shape[:2]) / max(found.width, found.height)
    box = tuple(int(v * scale) for v in found.box)
    base = selfie(name, box)  # type: ignore[arg-type]
    framed = engine.analyse(base, encode_face=False)
    assert framed.faces == 1 and framed.landmarks is not None
    return base, framed.landmarks


def motion_frames(
    base: np.ndarray, landmarks: np.ndarray, challenges: Sequence[str], fps: int, hold: float
) -> list[np.ndarray]:
    """``challenges`` acted out at ``fps``, each pose held ``hold`` seconds (a person doing it
    slowly enough for a camera check that samples a few frames a second)."""
    n = max(1, round(hold * fps))
    frames: list[np.ndarray] = [base] * n
    for name in challenges:
        if name == "blink":
            frames += [blink(base, landmarks)] * n
        else:
            sign = 1.0 if name == "turn_left" else -1.0
            half = turn(base, landmarks, sign * TURN / 2)
            full = turn(base, landmarks, sign * TURN)
            frames += [half] * max(1, n // 2) + [full] * n + [half] * max(1, n // 2)
        frames += [base] * n
    return frames
