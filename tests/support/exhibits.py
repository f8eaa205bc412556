"""Exhibit files for tests, made here: PDFs (reportlab), images (Pillow), a short video
(PyAV), and the hostile ones (polyglots, bombs, garbage behind a valid header)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
from PIL import Image
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

from support.hearing import Person

#: Colours of the pages of :func:`pdf`, one per page, so a test can tell which page it sees.
PAGE_COLOURS = [(200, 30, 30), (30, 160, 40), (30, 60, 200), (220, 160, 20)]


def pdf(pages: int = 3) -> bytes:
    """A PDF whose page N is filled with PAGE_COLOURS[N] and says "Page N"."""
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    w, h = A4
    for n in range(pages):
        r, g, b = PAGE_COLOURS[n % len(PAGE_COLOURS)]
        c.setFillColorRGB(r / 255, g / 255, b / 255)
        c.rect(0, 0, w, h, stroke=0, fill=1)
        c.setFillColorRGB(1, 1, 1)
        c.setFont("Helvetica-Bold", 72)
        c.drawString(80, h / 2, f"Page {n + 1}")
        c.showPage()
    c.save()
    return out.getvalue()


def png(
    width: int = 640, height: int = 480, colour: tuple[int, int, int] = (10, 120, 200)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def jpeg(width: int = 640, height: int = 480) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 200, 40)).save(out, "JPEG")
    return out.getvalue()


def mp4(seconds: float = 1.0, path: Path | None = None) -> bytes:
    """A short H.264 clip with a tone (PyAV)."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        video: Any = container.add_stream("libx264", rate=15)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        for i in range(int(15 * seconds)):
            frame = np.full((240, 320, 3), (i * 10) % 255, dtype=np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
    return out.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims a huge canvas (10 gigapixels by default)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def png_pdf_polyglot() -> bytes:
    """A PNG that a PDF reader would also open: the PDF marker inside its first kilobyte."""
    image = png(32, 32)
    text = b"%PDF-1.4 hidden"

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    return image[:33] + chunk(b"tEXt", b"Comment\x00" + text) + image[33:]


def pdf_with_zip() -> bytes:
    """A PDF with an archive appended after its end."""
    return pdf(1) + b"PK\x03\x04" + b"\x00" * 200


def truncated_pdf() -> bytes:
    data = pdf(2)
    return data[: len(data) // 2] + b"\n%%EOF\n"


async def upload_exhibit(server: Any, person: Person, data: bytes, title: str) -> Any:
    """Upload in one piece over HTTP with the person's join token."""
    who = {"Authorization": f"Bearer {person.token}"}
    base = f"http://127.0.0.1:{server.port}/api/me/evidence"
    async with aiohttp.ClientSession() as http:
        r = await http.post(
            f"{base}/uploads", json={"size": len(data), "filename": f"{title}.pdf"}, headers=who
        )
        up = (await r.json())["upload_id"]
        r = await http.patch(
            f"{base}/uploads/{up}",
            data=data,
            headers={
                **who,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert r.status == 200, await r.text()
        r = await http.post(f"{base}/uploads/{up}/complete", json={"title": title}, headers=who)
        assert r.status == 201, await r.text()
        return await r.json()
