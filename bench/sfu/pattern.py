"""Synthetic 640x360 camera pictures: a scrolling texture, a bouncing box of fresh noise
(so the encoder always has more detail than its bitrate can carry, like a real camera at
1 Mbps) and a clock stamp in the top macroblock row. Pure Python, no numpy."""

from __future__ import annotations

import math
import os

from .clockstamp import STAMP_HEIGHT, STAMP_WIDTH, stamp_row

WIDTH, HEIGHT = 640, 360
_PERIOD = 256  # the texture repeats horizontally every _PERIOD pixels
_SCROLL = 3  # pixels per frame
_BOX_W, _BOX_H = 160, 96
_U, _V = 110, 150

if STAMP_WIDTH != WIDTH:
    raise RuntimeError("the clock stamp must span the picture width")


def _texture_rows() -> list[bytes]:
    """Rows twice the needed width, so any scroll offset is a plain slice."""
    rows = []
    for y in range(HEIGHT):
        row = bytearray(WIDTH + _PERIOD)
        for x in range(WIDTH + _PERIOD):
            phase = 2 * math.pi * x / _PERIOD
            stripes = 60 * math.sin(phase * 3 + y / 23)
            rings = 40 * math.cos(math.hypot(x % _PERIOD - 128, y - 180) / 9)
            row[x] = max(16, min(235, int(126 + stripes + rings)))
        rows.append(bytes(row))
    return rows


class PatternPictures:
    """Makes the planes of picture ``n`` (Y, U, V) for a 640x360 yuv420p frame."""

    def __init__(self) -> None:
        self._rows = _texture_rows()
        self._u = bytes([_U]) * (WIDTH * HEIGHT // 4)
        self._v = bytes([_V]) * (WIDTH * HEIGHT // 4)

    def planes(self, n: int, stamp_ticks: int) -> tuple[bytes, bytes, bytes]:
        offset = (n * _SCROLL) % _PERIOD
        luma = bytearray(b"".join(r[offset : offset + WIDTH] for r in self._rows))
        # the noise box bounces around below the stamp row
        span_x, span_y = WIDTH - _BOX_W, HEIGHT - STAMP_HEIGHT - _BOX_H
        bx = _bounce(n * 5, span_x)
        by = STAMP_HEIGHT + _bounce(n * 3, span_y)
        noise = os.urandom(_BOX_W * _BOX_H)
        for row in range(_BOX_H):
            start = (by + row) * WIDTH + bx
            luma[start : start + _BOX_W] = noise[row * _BOX_W : (row + 1) * _BOX_W]
        luma[: STAMP_HEIGHT * WIDTH] = stamp_row(stamp_ticks) * STAMP_HEIGHT
        return bytes(luma), self._u, self._v


def _bounce(pos: int, span: int) -> int:
    """A triangle wave over [0, span]."""
    pos %= 2 * span
    return pos if pos <= span else 2 * span - pos
