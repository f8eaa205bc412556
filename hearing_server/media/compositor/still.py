"""An exhibit's page as a video frame for the composite: zoomed and panned as the presenter
sees it, with the presenter's pointer drawn on it."""

from __future__ import annotations

import av
from PIL import Image, ImageDraw

POINTER_COLOUR = (230, 30, 30)


def page_frame(
    page: Image.Image,
    *,
    zoom: float = 1.0,
    center: tuple[float, float] = (0.5, 0.5),
    pointer: tuple[float, float] | None = None,
) -> av.VideoFrame:
    """``page`` (already fitted to the tile) cropped to ``1/zoom`` of it around ``center``
    and scaled back up, the ``pointer`` (0..1 of the page) as a red ring; in RGB."""
    w, h = page.size
    image = page
    left, top = 0.0, 0.0
    zoom = max(1.0, zoom)
    if zoom > 1.0:
        cw, ch = w / zoom, h / zoom
        left = min(max(center[0] * w - cw / 2, 0.0), w - cw)
        top = min(max(center[1] * h - ch / 2, 0.0), h - ch)
        image = page.resize((w, h), Image.Resampling.BILINEAR, box=(left, top, left + cw, top + ch))
    else:
        image = page.copy()
    if pointer is not None:
        x = (pointer[0] * w - left) * zoom
        y = (pointer[1] * h - top) * zoom
        if 0 <= x < w and 0 <= y < h:
            r = max(6, min(w, h) // 40)
            draw = ImageDraw.Draw(image)
            draw.ellipse((x - r, y - r, x + r, y + r), outline=POINTER_COLOUR, width=max(2, r // 3))
    # Even sizes: the composite's 4:2:0 planes line up.
    if image.width % 2 or image.height % 2:
        image = image.crop((0, 0, image.width & ~1, image.height & ~1))
    frame: av.VideoFrame = av.VideoFrame.from_image(image.convert("RGB"))  # type: ignore[no-untyped-call]
    return frame
