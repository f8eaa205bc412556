"""Pixels of the composite view: YUV 4:2:0 planes as numpy arrays, text drawn with a CJK font.

Text (labels, name cards, the header, the "video interrupted" banner) is drawn with Pillow
into RGBA once per change, converted to YUV 4:2:0 with a premultiplied alpha, and then
blended per frame with a few integer numpy operations (``Overlay.blend``). Colours use
BT.601 limited range, like FFmpeg's default for yuv420p.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

Plane = npt.NDArray[np.uint8]
Planes = tuple[Plane, Plane, Plane]  # Y (h, w), U and V (h/2, w/2)
RGB = tuple[int, int, int]

# Debian: fonts-wqy-zenhei (installed by scripts/test and the container image) first.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)

BACKGROUND: RGB = (16, 20, 26)
TILE_BACKGROUND: RGB = (0, 0, 0)
HEADER_BACKGROUND: RGB = (13, 42, 74)
CARD_BACKGROUND: RGB = (38, 50, 56)
ACCENT: RGB = (240, 196, 90)  # role captions, case number
SPEAKER_BORDER: RGB = (46, 204, 113)
WHITE: RGB = (255, 255, 255)
GREY: RGB = (176, 186, 194)
MUTED_RED: RGB = (255, 110, 100)


def find_cjk_font(path: str | os.PathLike[str] | None = None) -> Path:
    """The font file to draw Chinese with: ``path`` if given, else the first installed
    candidate. Raises ``FileNotFoundError`` saying what to install."""
    candidates = [Path(path)] if path is not None else [Path(p) for p in FONT_CANDIDATES]
    for cand in candidates:
        if cand.is_file():
            return cand
    raise FileNotFoundError(
        f"no CJK font found (looked for {', '.join(map(str, candidates))}); "
        "install Debian's fonts-wqy-zenhei or set the compositor's font_path"
    )


# --- colour conversion -----------------------------------------------------------------

_M = np.array(
    [[0.257, 0.504, 0.098], [-0.148, -0.291, 0.439], [0.439, -0.368, -0.071]],
    dtype=np.float32,
)
_OFF = np.array([16.0, 128.0, 128.0], dtype=np.float32)


def rgb_to_yuv(rgb: RGB) -> tuple[int, int, int]:
    """One colour in BT.601 limited range."""
    yuv = _M @ np.array(rgb, dtype=np.float32) + _OFF
    return round(float(yuv[0])), round(float(yuv[1])), round(float(yuv[2]))


def _subsample(a: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """2x2 average of a (h, w[, c]) array with even h and w."""
    total = a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]
    return total * np.float32(0.25)


def _even_size(img: Image.Image) -> Image.Image:
    w, h = img.size
    if w % 2 == 0 and h % 2 == 0:
        return img
    out = Image.new(img.mode, (w + w % 2, h + h % 2), (0, 0, 0, 0))
    out.paste(img, (0, 0))
    return out


def solid_planes(w: int, h: int, rgb: RGB) -> Planes:
    y, u, v = rgb_to_yuv(rgb)
    return (
        np.full((h, w), y, np.uint8),
        np.full((h // 2, w // 2), u, np.uint8),
        np.full((h // 2, w // 2), v, np.uint8),
    )


_LUT_Y = np.array([16 + round(i * 219 / 255) for i in range(256)], np.uint8)
_LUT_C = np.array([128 + round((i - 128) * 224 / 255) for i in range(256)], np.uint8)


def rgb_image_to_planes(img: Image.Image) -> Planes:
    """An opaque image as YUV 4:2:0 planes (BT.601 limited range); odd sizes are padded.

    Pillow's YCbCr is BT.601 full range (JPEG); a lookup table maps it to limited range.
    """
    img = _even_size(img.convert("RGB"))
    w, h = img.size
    y, cb, cr = img.convert("YCbCr").split()
    half = (w // 2, h // 2)
    return (
        _LUT_Y[np.asarray(y)],
        _LUT_C[np.asarray(cb.resize(half, Image.Resampling.BOX))],
        _LUT_C[np.asarray(cr.resize(half, Image.Resampling.BOX))],
    )


def blit(dst: Planes, src: Planes, x: int, y: int) -> None:
    """Copy ``src`` planes into ``dst`` at even (x, y), clipped to ``dst``."""
    dh, dw = dst[0].shape
    sh, sw = src[0].shape
    w, h = min(sw, dw - x), min(sh, dh - y)
    if w <= 0 or h <= 0:
        return
    dst[0][y : y + h, x : x + w] = src[0][:h, :w]
    cx, cy, cw, ch = x // 2, y // 2, w // 2, h // 2
    dst[1][cy : cy + ch, cx : cx + cw] = src[1][:ch, :cw]
    dst[2][cy : cy + ch, cx : cx + cw] = src[2][:ch, :cw]


def fill(dst: Planes, x: int, y: int, w: int, h: int, yuv: tuple[int, int, int]) -> None:
    """Fill an even-aligned rectangle with one colour."""
    dst[0][y : y + h, x : x + w] = yuv[0]
    dst[1][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = yuv[1]
    dst[2][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = yuv[2]


def frame_border(dst: Planes, x: int, y: int, w: int, h: int, width: int, rgb: RGB) -> None:
    """A ``width``-pixel (even) border just inside the rectangle."""
    yuv = rgb_to_yuv(rgb)
    fill(dst, x, y, w, width, yuv)
    fill(dst, x, y + h - width, w, width, yuv)
    fill(dst, x, y, width, h, yuv)
    fill(dst, x + w - width, y, width, h, yuv)


@dataclass(slots=True)
class Overlay:
    """A picture with alpha, ready to blend: premultiplied YUV and 256 - alpha (uint16)."""

    width: int
    height: int
    premul: tuple[npt.NDArray[np.uint16], ...]
    inverse: tuple[npt.NDArray[np.uint16], ...]  # per plane size: luma, chroma
    _scratch: list[npt.NDArray[np.uint16]] = field(default_factory=list)

    @classmethod
    def from_rgba(cls, img: Image.Image) -> Overlay:
        img = _even_size(img.convert("RGBA"))
        rgba = np.asarray(img, dtype=np.float32)
        alpha = rgba[..., 3] * (256.0 / 255.0)  # 0..256
        rgb = rgba[..., :3]
        y = (rgb @ _M[0] + _OFF[0]) * alpha
        # chroma: average the premultiplied colour and the alpha over each 2x2 block
        pm_rgb = rgb * alpha[..., None]
        a2 = _subsample(alpha)
        uv = _subsample(pm_rgb) @ _M[1:].T + _OFF[1:] * a2[..., None]

        def u16(a: npt.NDArray[np.float32]) -> npt.NDArray[np.uint16]:
            return np.clip(np.rint(a), 0, 65280).astype(np.uint16)

        inv_y = u16(256.0 - alpha)
        inv_c = u16(256.0 - a2)
        return cls(
            width=img.size[0],
            height=img.size[1],
            premul=(u16(y), u16(uv[..., 0]), u16(uv[..., 1])),
            inverse=(inv_y, inv_c),
            _scratch=[np.empty_like(inv_y), np.empty_like(inv_c)],
        )

    def blend(self, dst: Planes, x: int, y: int) -> None:
        """Blend onto ``dst`` at even (x, y); the overlay must fit inside ``dst``.
        Not thread-safe (uses scratch buffers): one compositor thread draws."""
        x, y = x & ~1, y & ~1
        w, h = self.width, self.height
        if x < 0 or y < 0 or x + w > dst[0].shape[1] or y + h > dst[0].shape[0]:
            return  # does not fit: draw nothing rather than part of it
        for i, plane in enumerate(dst):
            if i == 0:
                region = plane[y : y + h, x : x + w]
                inv, tmp = self.inverse[0], self._scratch[0]
            else:
                region = plane[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2]
                inv, tmp = self.inverse[1], self._scratch[1]
            np.multiply(region, inv, out=tmp)
            np.add(tmp, self.premul[i], out=tmp)
            np.right_shift(tmp, 8, out=tmp)
            np.copyto(region, tmp, casting="unsafe")


# --- text --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of text in one colour."""

    text: str
    color: RGB


class TextRenderer:
    """Draws text with one CJK font file (any size), caching the loaded sizes."""

    def __init__(self, font_path: str | os.PathLike[str] | None = None) -> None:
        self.font_path = find_cjk_font(font_path)
        self._load = lru_cache(maxsize=64)(self._load_uncached)

    def _load_uncached(self, size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(str(self.font_path), size=size, index=0)

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        return self._load(max(8, int(size)))

    def width(self, text: str, size: int) -> int:
        return round(self.font(size).getlength(text))

    def fit(self, text: str, size: int, max_width: int) -> str:
        """``text``, cut with an ellipsis if wider than ``max_width``."""
        if self.width(text, size) <= max_width:
            return text
        while text and self.width(text + "…", size) > max_width:
            text = text[:-1]
        return text + "…" if text else ""

    def draw_runs(
        self, draw: ImageDraw.ImageDraw, x: int, y: int, runs: Sequence[Run], size: int
    ) -> int:
        """Draw ``runs`` left to right from (x, y) (top of the line); returns the end x."""
        font = self.font(size)
        for run in runs:
            draw.text((x, y), run.text, font=font, fill=(*run.color, 255))
            x += self.width(run.text, size)
        return x


#: The smallest caption on the 1280x720 canvas: 19 px is 28.5 px on a 1080p courtroom screen,
#: readable across the room (issue 27).
MIN_LABEL_PX = 19


def label_font_size(tile_h: int) -> int:
    return max(MIN_LABEL_PX, min(26, round(tile_h * 0.075)))


def render_label(
    text: TextRenderer, role: str, name: str, muted: bool, tile_w: int, tile_h: int
) -> Overlay:
    """The caption at a tile's bottom-left: role (accent), name, and 静音 when muted, on a
    translucent dark box."""
    size = label_font_size(tile_h)
    pad_x, pad_y, gap = size // 2, max(3, size // 5), size // 2
    max_w = tile_w - 8 - 2 * pad_x
    muted_tag = "静音" if muted else ""
    fixed = text.width(role, size) + gap + (gap + text.width(muted_tag, size) if muted else 0)
    shown_name = text.fit(name, size, max(size, max_w - fixed))
    runs = [Run(role, ACCENT), Run(" ", WHITE), Run(shown_name, WHITE)]
    if muted:
        runs += [Run(" ", WHITE), Run(muted_tag, MUTED_RED)]
    width = sum(text.width(r.text, size) for r in runs) + 2 * pad_x
    width = min(width, tile_w - 8)
    height = size + 2 * pad_y + size // 6
    img = Image.new("RGBA", (width + width % 2, height + height % 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle(
        (0, 0, img.size[0] - 1, img.size[1] - 1), radius=max(2, size // 4), fill=(0, 0, 0, 165)
    )
    text.draw_runs(draw, pad_x, pad_y, runs, size)
    return Overlay.from_rgba(img)


def render_frozen_banner(text: TextRenderer, tile_w: int, tile_h: int) -> Overlay:
    """The banner "视频中断 / video interrupted", centred on a frozen tile."""
    size = max(14, min(30, round(tile_h * 0.08)))
    small = max(12, round(size * 0.75))
    lines = [("视频中断", size), ("video interrupted", small)]
    pad = size // 2
    width = min(tile_w - 8, max(text.width(t, s) for t, s in lines) + 2 * pad)
    height = size + small + 2 * pad + size // 4
    img = Image.new("RGBA", (width + width % 2, height + height % 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle(
        (0, 0, img.size[0] - 1, img.size[1] - 1),
        radius=max(2, size // 4),
        fill=(150, 20, 20, 225),
        outline=(255, 255, 255, 230),  # stands out on a red picture too
        width=2,
    )
    y = pad
    for line, s in lines:
        shown = text.fit(line, s, width - 2 * pad)
        draw.text(
            ((img.size[0] - text.width(shown, s)) // 2, y),
            shown,
            font=text.font(s),
            fill=(*WHITE, 255),
        )
        y += s + size // 4
    return Overlay.from_rgba(img)


def render_name_card(text: TextRenderer, name: str, w: int, h: int) -> Planes:
    """A tile for someone without video: an avatar with the first character of the name
    and "未开启视频 camera off"; the usual label is drawn over it like on any tile."""
    img = Image.new("RGB", (w, h), CARD_BACKGROUND)
    draw = ImageDraw.Draw(img)
    diameter = max(16, int(min(w, h) * 0.42))
    cx, cy = w // 2, int(h * 0.42)
    draw.ellipse(
        (cx - diameter // 2, cy - diameter // 2, cx + diameter // 2, cy + diameter // 2),
        fill=(84, 110, 122),
    )
    initial = name.strip()[:1] or "?"
    size = max(10, int(diameter * 0.5))
    font = text.font(size)
    draw.text((cx, cy), initial, font=font, fill=WHITE, anchor="mm")
    hint = "未开启视频 camera off"
    hint_size = max(12, min(22, int(h * 0.055)))
    if h >= 120:
        shown = text.fit(hint, hint_size, w - 8)
        draw.text(
            (cx, cy + diameter // 2 + hint_size),
            shown,
            font=text.font(hint_size),
            fill=GREY,
            anchor="mm",
        )
    return rgb_image_to_planes(img)


def render_header(
    text: TextRenderer, court: str, case_number: str, title: str, clock: str, w: int, h: int
) -> Planes:
    """The bar at the top: court and case number on the left, title, clock on the right."""
    img = Image.new("RGB", (w, h), HEADER_BACKGROUND)
    draw = ImageDraw.Draw(img)
    size = max(12, int(h * 0.45))
    y = (h - size) // 2 - 1
    clock_w = text.width(clock, size)
    draw.text((w - 16 - clock_w, y), clock, font=text.font(size), fill=WHITE)
    left_room = w - 16 - clock_w - 32 - 16
    runs: list[Run] = []
    if court:
        runs.append(Run(text.fit(court, size, left_room // 2), WHITE))
    if case_number:
        runs += [Run("  ", WHITE), Run(case_number, ACCENT)]
    used = sum(text.width(r.text, size) for r in runs)
    if title and left_room - used > 4 * size:
        runs += [Run("  ", WHITE), Run(text.fit(title, size, left_room - used - size), GREY)]
    text.draw_runs(draw, 16, y, runs, size)
    return rgb_image_to_planes(img)
