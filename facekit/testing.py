"""A person in front of a camera, acted out from a photo: for tests and benchmarks.

Never used by the server. The photos come from ``shared/testdata/faces`` beside the project
(PROVENANCE.md there); nothing here copies them anywhere.

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

:class:`ScriptedVideoTrack` is that camera as an aiortc track, and :func:`act_out` the person
following the server's prompts with it.
"""

from __future__ import annotations

import asyncio
import fractions
import os
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from aiortc import MediaStreamTrack
from av import VideoFrame
from PIL import Image, ImageDraw

from . import engine
from .engine import Box, Landmarks

WIDTH, HEIGHT = 640, 360
TURN = 0.2  # nose displacement, as a fraction of the face's width
TURN_SPREAD = 0.28  # the Gaussian's width, as a fraction of the face's width
CHALLENGE_TIME_S = 21.0  # the check's 20 s and a little more: then the person gives up

Frame = np.ndarray  # RGB, HEIGHT x WIDTH x 3, uint8


def faces_dir(project: Path) -> Path:
    """Where the test photos are: ``$HEARING_TEST_FACES``, else ``shared/testdata/faces``
    beside ``project`` (the checkout), else the one beside the main checkout (a worktree)."""
    configured = os.environ.get("HEARING_TEST_FACES")
    if configured:
        return Path(configured)
    beside = project.parent / "shared" / "testdata" / "faces"
    return beside if beside.is_dir() else Path("/work/shared/testdata/faces")


def read_photo(path: Path) -> Frame:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def selfie(img: Frame, box: Box) -> Frame:
    """The photo ``img`` cropped around the face ``box`` (top, right, bottom, left in its
    pixels), the way a phone's front camera frames a face, on a 640x360 frame."""
    im = Image.fromarray(img)
    top, right, bottom, left = box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    half = (bottom - top) * 1.4
    im = im.crop((int(cx - half * 1.2), int(cy - half), int(cx + half * 1.2), int(cy + half)))
    im = im.resize((int(im.width * HEIGHT / im.height), HEIGHT))
    frame = Image.new("RGB", (WIDTH, HEIGHT), (90, 90, 90))
    frame.paste(im, ((WIDTH - im.width) // 2, 0))
    return np.asarray(frame)


def camera_of(img: Frame) -> tuple[Frame, Landmarks]:
    """A 640x360 selfie frame of the photo ``img`` and the landmarks of its face (runs the
    face engine in this process)."""
    found = engine.analyse_photo(img)
    assert found.box is not None, "no face in the photo"
    scale = max(img.shape[:2]) / max(found.width, found.height)
    top, right, bottom, left = (int(v * scale) for v in found.box)
    base = selfie(img, (top, right, bottom, left))
    framed = engine.analyse(base, encode_face=False)
    assert framed.faces == 1 and framed.landmarks is not None
    return base, framed.landmarks


def _remap(img: Frame, dx: np.ndarray, dy: np.ndarray) -> Frame:
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


def turn(img: Frame, landmarks: Landmarks, amount: float) -> Frame:
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


def blink(img: Frame, landmarks: Landmarks) -> Frame:
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
    base: Frame, landmarks: Landmarks, challenges: Sequence[str], fps: int = 10
) -> list[Frame]:
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


def motion_frames(
    base: Frame, landmarks: Landmarks, challenges: Sequence[str], fps: int, hold: float
) -> list[Frame]:
    """``challenges`` acted out at ``fps``, each pose held ``hold`` seconds (a person doing it
    slowly enough for a camera check that samples a few frames a second)."""
    n = max(1, round(hold * fps))
    frames: list[Frame] = [base] * n
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


def every_motion(
    base: Frame, landmarks: Landmarks, fps: int = 15, hold: float = 0.7
) -> dict[str, list[Frame]]:
    """Each challenge acted out on its own (made before a check, so that the image work does
    not load the machine during it)."""
    return {
        c: motion_frames(base, landmarks, [c], fps=fps, hold=hold)
        for c in ("blink", "turn_left", "turn_right")
    }


class ScriptedVideoTrack(MediaStreamTrack):
    """A camera showing ``still`` (an RGB array) until told to ``play`` a list of frames, then
    ``still`` again: a person who does what they are asked when they are asked."""

    kind = "video"

    def __init__(self, still: Frame, fps: int = 15) -> None:
        super().__init__()
        self._still = still
        self._fps = fps
        self._queue: deque[Frame] = deque()
        self._start: float | None = None
        self._count = 0
        self._drained = asyncio.Event()
        self._drained.set()

    def play(self, frames: Sequence[Frame]) -> None:
        self._queue.extend(frames)
        if self._queue:
            self._drained.clear()

    @property
    def playing(self) -> bool:
        return bool(self._queue)

    async def drained(self) -> None:
        """Until every frame given to ``play`` has been sent."""
        await self._drained.wait()

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count / self._fps
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        rgb = self._queue.popleft() if self._queue else self._still
        if not self._queue:
            self._drained.set()
        frame = VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = self._count * (90000 // self._fps)
        frame.time_base = fractions.Fraction(1, 90000)
        self._count += 1
        return frame


class ProgressEvents(Protocol):
    """What :func:`act_out` needs of a participant's connection (``signaling.client``'s
    ``HearingClient``): the ``identity_progress`` pushes the server sends during the check."""

    async def wait_for_event(
        self, name: str, predicate: Any = None, *, timeout: float = 10.0
    ) -> Any: ...


async def act_out(
    client: ProgressEvents,
    camera: ScriptedVideoTrack,
    challenges: Sequence[str],
    motions: dict[str, list[Frame]],
    time_limit_s: float = CHALLENGE_TIME_S,
) -> None:
    """Do each challenge the way a person follows a prompt: do it, and do it again until the
    prompt moves on (on a loaded machine the check may sample too few frames of one go);
    give up when the check's time is over."""
    deadline = time.monotonic() + time_limit_s
    for i, challenge in enumerate(challenges):
        frames = motions[challenge]
        while (left := deadline - time.monotonic()) > 0:
            camera.play(frames)
            try:
                await client.wait_for_event(
                    "identity_progress",
                    lambda d, i=i: d["completed"] > i or d["current"] is None,
                    timeout=min(left, len(frames) / 15 + 1.0),
                )
                break
            except TimeoutError:
                await camera.drained()
        else:
            return
