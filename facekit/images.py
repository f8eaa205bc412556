"""Reading a reference photo (or a probe still) safely: size, format, decompression bombs.

Everything here runs in the face worker (decoding an image is CPU work), but it is plain
Pillow and NumPy, so tests and the CLI call it directly too.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 5 * 1024 * 1024
"""A reference photo is at most 5 MB."""

MAX_PIXELS = 40_000_000
"""More pixels than this (e.g. a 1 KB PNG that claims 100 000 x 100 000) is a decompression
bomb, refused before it is decoded."""

MAX_SIDE = 1024
"""Photos are scaled so that their longer side is at most this before faces are looked for:
enough for any face that fills a reasonable part of the photo, and detection stays fast."""

REFERENCE_FORMATS = frozenset({"JPEG", "PNG"})

RGB = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class ImageProblem(Exception):
    """A photo that cannot be used. ``code`` is ``image_invalid``; ``reason`` says why:
    ``too_large``, ``empty``, ``not_an_image``, ``format``, ``corrupt``, ``decompression_bomb``."""

    reason: str
    message: str
    code: str = "image_invalid"

    def __str__(self) -> str:
        return self.message


def load_image(
    data: bytes,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    formats: frozenset[str] | None = REFERENCE_FORMATS,
    max_side: int = MAX_SIDE,
) -> RGB:
    """``data`` decoded to an RGB array (height, width, 3), scaled down to ``max_side``.

    Raises :class:`ImageProblem`. ``formats``: the Pillow formats accepted (None: any)."""
    if not data:
        raise ImageProblem("empty", "the file is empty")
    if len(data) > max_bytes:
        raise ImageProblem("too_large", f"the photo is larger than {max_bytes // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that; both are ours.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format or "?"
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise ImageProblem(
                        "decompression_bomb",
                        f"the image claims {width}x{height} pixels: refused",
                    )
                if formats is not None and fmt not in formats:
                    raise ImageProblem("format", f"the photo must be JPEG or PNG, not {fmt}")
                probe.verify()  # structure (PNG CRCs); the decode below catches the rest
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                rgb = img.convert("RGB")
    except ImageProblem:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageProblem("decompression_bomb", "the image is too large to decode") from None
    except UnidentifiedImageError:
        raise ImageProblem("not_an_image", "the file is not an image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageProblem("corrupt", f"the image is damaged: {exc}") from None
    return fit(np.asarray(rgb, dtype=np.uint8), max_side)


def fit(rgb: RGB, max_side: int) -> RGB:
    """``rgb`` scaled down (never up) so that its longer side is at most ``max_side``."""
    height, width = rgb.shape[:2]
    longer = max(height, width)
    if longer <= max_side:
        return rgb
    scale = max_side / longer
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)
