"""Drawing: colour conversion, blending, and Chinese text that renders as glyphs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from hearing_server.media.compositor.draw import (
    Overlay,
    TextRenderer,
    blit,
    find_cjk_font,
    label_font_size,
    render_frozen_banner,
    render_header,
    render_label,
    render_name_card,
    rgb_image_to_planes,
    rgb_to_yuv,
    solid_planes,
)


@pytest.fixture(scope="module")
def text() -> TextRenderer:
    return TextRenderer()


def glyph(text: TextRenderer, char: str) -> np.ndarray:
    img = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(img).text((4, 4), char, font=text.font(48), fill=255)
    return np.asarray(img)


def test_the_cjk_font_is_installed_and_draws_chinese_not_tofu(text: TextRenderer) -> None:
    assert find_cjk_font().is_file()
    chars = "审判长书记员原告被告证人鉴定人翻译旁听视频中断"
    shapes = {c: glyph(text, c) for c in chars}
    missing = glyph(text, "\ue000")  # a private-use code point: the font's "missing" box
    for c, shape in shapes.items():
        assert shape.sum() > 0, f"{c} drew nothing"
        assert not np.array_equal(shape, missing), f"{c} drew the missing-glyph box"
    # tofu boxes all look alike; real glyphs differ from each other
    distinct = {shape.tobytes() for shape in shapes.values()}
    assert len(distinct) == len(set(chars))


def test_missing_font_says_what_to_install(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileNotFoundError, match="fonts-wqy-zenhei"):
        find_cjk_font(tmp_path / "nope.ttc")


def test_rgb_to_yuv_is_bt601_limited_range() -> None:
    assert rgb_to_yuv((0, 0, 0)) == (16, 128, 128)
    assert rgb_to_yuv((255, 255, 255)) == (235, 128, 128)
    y, u, v = rgb_to_yuv((255, 0, 0))
    assert (y, v) == (82, 240) and abs(u - 90) <= 1


def test_rgb_image_to_planes_matches_rgb_to_yuv() -> None:
    img = Image.new("RGB", (6, 4), (30, 200, 30))
    y, u, v = rgb_image_to_planes(img)
    assert y.shape == (4, 6) and u.shape == v.shape == (2, 3)
    want = rgb_to_yuv((30, 200, 30))
    assert abs(int(y[0, 0]) - want[0]) <= 1
    assert abs(int(u[0, 0]) - want[1]) <= 1 and abs(int(v[0, 0]) - want[2]) <= 1


def test_overlay_blend_transparent_opaque_and_half() -> None:
    rgba = Image.new("RGBA", (8, 4), (0, 0, 0, 0))
    draw = ImageDraw.Draw(rgba)
    draw.rectangle((0, 0, 1, 3), fill=(255, 255, 255, 255))  # opaque white: x 0..1
    draw.rectangle((4, 0, 5, 3), fill=(255, 255, 255, 128))  # half white: x 4..5
    overlay = Overlay.from_rgba(rgba)
    canvas = solid_planes(16, 8, (0, 0, 0))
    overlay.blend(canvas, 2, 2)
    y = canvas[0]
    assert y[2, 2] == 235 and y[2, 3] == 235  # opaque white
    assert y[2, 4] == 16 and y[2, 5] == 16  # transparent: untouched black
    assert 120 <= y[2, 6] <= 130  # half: between 16 and 235
    assert y[0, 0] == 16 and y[7, 15] == 16  # outside: untouched
    for chroma in canvas[1:]:  # white and black have no colour: chroma stays neutral
        assert np.abs(chroma.astype(int) - 128).max() <= 1


def test_overlay_that_does_not_fit_draws_nothing() -> None:
    overlay = Overlay.from_rgba(Image.new("RGBA", (8, 8), (255, 255, 255, 255)))
    canvas = solid_planes(16, 16, (0, 0, 0))
    overlay.blend(canvas, 12, 12)
    assert (canvas[0] == 16).all()


def test_blit_clips_at_the_edge() -> None:
    canvas = solid_planes(8, 8, (0, 0, 0))
    blit(canvas, solid_planes(6, 6, (255, 255, 255)), 4, 4)
    assert (canvas[0][4:, 4:] == 235).all() and (canvas[0][:4] == 16).all()


def test_label_is_wider_for_longer_names_and_capped_by_the_tile(text: TextRenderer) -> None:
    short = render_label(text, "原告", "张三", False, 400, 226)
    muted = render_label(text, "原告", "张三", True, 400, 226)
    long = render_label(text, "证人", "Maximilian Mustermann-Langname " * 3, False, 400, 226)
    assert muted.width > short.width
    assert long.width <= 400 - 8
    assert short.width % 2 == short.height % 2 == 0


def test_name_card_banner_and_header_sizes(text: TextRenderer) -> None:
    card = render_name_card(text, "李四", 312, 176)
    assert card[0].shape == (176, 312) and card[1].shape == (88, 156)
    banner = render_frozen_banner(text, 152, 86)
    assert banner.width <= 152 - 8 and banner.height < 86
    header = render_header(
        text, "北京市朝阳区人民法院", "(2026)京0105民初1234号", "", "12:00", 1280, 44
    )
    assert header[0].shape == (44, 1280)


@pytest.mark.parametrize("tile_h", [120, 200, 330, 680])
def test_captions_are_readable_across_a_courtroom(tile_h: int) -> None:
    # The 720p canvas fills a 1080p screen: every caption is at least 28 px there (issue 27).
    assert label_font_size(tile_h) * 1080 / 720 >= 28
