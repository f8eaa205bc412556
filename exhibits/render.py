"""Pages of an exhibit as pictures: a PDF page rendered by PDFium, an image scaled, each
fitted into a box without changing its shape. The web viewer shows them as JPEG or PNG, the
courtroom composite draws them into its frame.

PDFium is not thread-safe, so one lock serialises every call into it; renders are blocking
(run them in a thread) and the most recent ones are kept, since everyone in the hearing asks
for the page the presenter just turned to.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

import pypdfium2
from PIL import Image

from .content import MediaType

_CACHE_ITEMS = 48


def fit(width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    """The largest size of ``width`` x ``height``'s shape inside ``box_w`` x ``box_h``."""
    scale = min(box_w / width, box_h / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


class PageRenderer:
    """Renders exhibit pages; owns the PDFium lock and a small cache of encoded pages."""

    def __init__(self) -> None:
        self._pdfium = threading.Lock()
        self._cache: OrderedDict[tuple[str, int, int, int, str], bytes] = OrderedDict()
        self._cache_lock = threading.Lock()

    def render(
        self, path: Path, media_type: MediaType, page: int, box_w: int, box_h: int
    ) -> Image.Image:
        """Page ``page`` (0-based; images have only page 0) fitted into the box, in RGB.
        Raises ``IndexError`` for a page the exhibit does not have, ``ValueError`` for a type
        that has no pages (audio, video)."""
        if media_type is MediaType.PDF:
            with self._pdfium:
                doc = pypdfium2.PdfDocument(str(path))
                try:
                    if not 0 <= page < len(doc):
                        raise IndexError(f"the PDF has {len(doc)} pages")
                    pdf_page = doc[page]
                    try:
                        w, h = pdf_page.get_size()
                        tw, _ = fit(max(1, round(w)), max(1, round(h)), box_w, box_h)
                        bitmap = pdf_page.render(scale=tw / w)
                        try:
                            image: Image.Image = bitmap.to_pil().convert("RGB")
                        finally:
                            bitmap.close()
                    finally:
                        pdf_page.close()
                finally:
                    doc.close()
            return image
        if media_type.is_image:
            if page != 0:
                raise IndexError("an image has one page")
            with Image.open(path) as im:
                im.draft("RGB", (box_w, box_h))  # JPEG: decode at a reduced size when it can
                rgb = im.convert("RGB")
            return rgb.resize(fit(rgb.width, rgb.height, box_w, box_h), Image.Resampling.LANCZOS)
        raise ValueError(f"a {media_type.value} exhibit has no pages")

    def encoded(
        self,
        key: str,
        path: Path,
        media_type: MediaType,
        page: int,
        width: int,
        *,
        fmt: str = "JPEG",
    ) -> bytes:
        """Page ``page`` at ``width`` pixels wide (any height), encoded as ``fmt``; ``key``
        names the file's content (its hash), so a cached page is never served for another
        file."""
        cache_key = (key, page, width, 0, fmt)
        with self._cache_lock:
            hit = self._cache.get(cache_key)
            if hit is not None:
                self._cache.move_to_end(cache_key)
                return hit
        image = self.render(path, media_type, page, width, width * 4)
        out = io.BytesIO()
        if fmt == "JPEG":
            image.save(out, "JPEG", quality=85, optimize=True)
        else:
            image.save(out, fmt)
        data = out.getvalue()
        with self._cache_lock:
            self._cache[cache_key] = data
            while len(self._cache) > _CACHE_ITEMS:
                self._cache.popitem(last=False)
        return data
