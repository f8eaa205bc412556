"""Synthetic 68-point facial landmarks for the liveness judge's tests."""

from __future__ import annotations

import math

import numpy as np


def face(turn: float = 0.0, eyes: float = 1.0) -> np.ndarray:
    """68 landmarks of a face ~200 px wide: ``turn`` moves the nose tip across the face
    (+: towards landmark 16, the person's left), ``eyes`` scales the eyes' opening."""
    pts = np.zeros((68, 2))
    for i in range(17):  # the jaw, an arc from ear to ear
        a = math.pi * i / 16
        pts[i] = (300 - 100 * math.cos(a), 200 + 120 * math.sin(a))
    for i in range(27, 36):
        pts[i] = (300, 180 + 5 * (i - 27))
    pts[30] = (300 + turn * 100, 215)  # the nose tip
    for first, cx in ((36, 255), (42, 345)):  # p1..p6 of each eye
        h = 9 * eyes
        pts[first : first + 6] = [
            (cx - 20, 170),
            (cx - 7, 170 - h),
            (cx + 7, 170 - h),
            (cx + 20, 170),
            (cx + 7, 170 + h),
            (cx - 7, 170 + h),
        ]
    return pts
