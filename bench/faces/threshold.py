"""Measure the face-match distance curve on the test photos and augmented variants.

    python bench/faces/threshold.py [FACES_DIR] > bench/faces/threshold.json

Every photo of ``FACES_DIR`` (default ../shared/testdata/faces) in variants a camera or an
upload produces: crops around the face (tight, loose, off-centre), scaled down (to a face
~80 and ~120 pixels wide), darker and brighter, low JPEG quality, slightly rotated, and a
640x360 "selfie" frame. Each variant is encoded; every pair of variants of two *different*
photos is a genuine pair (same person) or an impostor pair (two people); pairs of one photo
with itself are left out, since they say nothing about a live camera. Prints the distances and,
per threshold, the false rejections (genuine pairs over it) and false acceptances (impostor
pairs at or under it).
"""

from __future__ import annotations

import io
import json
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from facekit import engine
from facekit.matcher import distance

PEOPLE = {
    "obama.jpg": "obama",
    "obama2.jpg": "obama",
    "obama3.jpg": "obama",
    "obama_partial_face.jpg": "obama",
    "biden.jpg": "biden",
}


def _crop(im: Image.Image, box: tuple[int, int, int, int], grow: float, dx: float) -> Image.Image:
    top, right, bottom, left = box
    cx, cy = (left + right) / 2 + dx * (right - left), (top + bottom) / 2
    half = (bottom - top) * grow
    return im.crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half)))


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def variants(im: Image.Image, box: tuple[int, int, int, int]) -> dict[str, Image.Image]:
    face_w = box[1] - box[3]
    tight = _crop(im, box, 0.9, 0)
    loose = _crop(im, box, 1.6, 0)
    out = {
        "original": im,
        "crop_tight": tight,
        "crop_loose": loose,
        "crop_off_centre": _crop(im, box, 1.2, 0.25),
        "small_face_80px": im.resize((int(im.width * 80 / face_w), int(im.height * 80 / face_w))),
        "small_face_120px": im.resize(
            (int(im.width * 120 / face_w), int(im.height * 120 / face_w))
        ),
        "darker": ImageEnhance.Brightness(loose).enhance(0.55),
        "brighter": ImageEnhance.Brightness(loose).enhance(1.5),
        "jpeg_q20": _jpeg(loose, 20),
        "rotated_8deg": loose.rotate(8, resample=Image.Resampling.BILINEAR),
    }
    frame = Image.new("RGB", (640, 360), (90, 90, 90))
    selfie = loose.resize((int(loose.width * 360 / loose.height), 360))
    frame.paste(selfie, ((640 - selfie.width) // 2, 0))
    out["selfie_640x360"] = frame
    return out


def main() -> None:
    faces = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/testdata/faces")
    encodings: list[tuple[str, str, str, np.ndarray]] = []
    missed: list[str] = []
    for name, person in PEOPLE.items():
        im = Image.open(faces / name).convert("RGB")
        found = engine.analyse_photo(np.asarray(im))
        assert found.box is not None
        scale = max(im.size) / max(found.width, found.height)
        box = tuple(int(v * scale) for v in found.box)
        for label, var in variants(im, box).items():  # type: ignore[arg-type]
            a = engine.analyse_photo(np.asarray(var.convert("RGB")))
            if a.faces != 1 or a.encoding is None:
                missed.append(f"{name}:{label} ({a.faces} faces)")
                continue
            encodings.append((name, label, person, a.encoding))
    genuine, impostor = [], []
    for (n1, _, p1, e1), (n2, _, p2, e2) in combinations(encodings, 2):
        if n1 == n2:
            continue
        (genuine if p1 == p2 else impostor).append(distance(e1, e2))
    g, i = np.array(genuine), np.array(impostor)
    curve = []
    for t in np.arange(0.30, 0.725, 0.025):
        curve.append(
            {
                "threshold": round(float(t), 3),
                "false_reject": round(float((g > t).mean()), 4),
                "false_accept": round(float((i <= t).mean()), 4),
            }
        )
    report = {
        "variants_encoded": len(encodings),
        "variants_without_one_face": missed,
        "genuine_pairs": len(g),
        "impostor_pairs": len(i),
        "genuine": {
            "min": round(float(g.min()), 4),
            "median": round(float(np.median(g)), 4),
            "p95": round(float(np.percentile(g, 95)), 4),
            "max": round(float(g.max()), 4),
        },
        "impostor": {
            "min": round(float(i.min()), 4),
            "p5": round(float(np.percentile(i, 5)), 4),
            "median": round(float(np.median(i)), 4),
            "max": round(float(i.max()), 4),
        },
        "curve": curve,
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
