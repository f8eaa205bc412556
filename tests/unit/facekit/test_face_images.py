"""Reference photos: JPEG/PNG up to 5 MB; corrupt files, other files and bombs refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from facekit import ImageProblem, load_image


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def _problem(data: bytes) -> ImageProblem:
    with pytest.raises(ImageProblem) as info:
        load_image(data)
    assert info.value.code == "image_invalid"
    return info.value


def test_jpeg_and_png_load_as_rgb_scaled_down() -> None:
    img = Image.new("RGB", (2000, 1000), (200, 100, 50))
    for fmt in ("JPEG", "PNG"):
        rgb = load_image(_encode(img, fmt))
        assert rgb.shape == (512, 1024, 3)
        assert rgb.dtype == np.uint8
    grey = load_image(_encode(Image.new("L", (100, 80), 128), "PNG"))
    assert grey.shape == (80, 100, 3)


def test_what_is_refused() -> None:
    img = Image.new("RGB", (64, 64), (10, 20, 30))
    assert _problem(b"").reason == "empty"
    assert _problem(b"%PDF-1.7 not a photo").reason == "not_an_image"
    assert _problem(_encode(img, "GIF")).reason == "format"
    jpeg = _encode(img, "JPEG")
    assert _problem(jpeg[: len(jpeg) // 2]).reason == "corrupt"
    png = bytearray(_encode(img, "PNG"))
    png[-20] ^= 0xFF  # inside the image data: its CRC no longer holds
    assert _problem(bytes(png)).reason == "corrupt"
    assert _problem(b"\xff\xd8" + b"\x00" * (5 * 1024 * 1024)).reason == "too_large"


def test_a_decompression_bomb_is_refused_before_it_is_decoded() -> None:
    # 10 000 x 10 000 one-bit pixels: ~60 kB compressed, 100 million pixels decoded.
    bomb = _encode(Image.new("1", (10_000, 10_000)), "PNG")
    assert len(bomb) < 1024 * 1024
    assert _problem(bomb).reason == "decompression_bomb"
