"""What a file is, from its content: the types a court takes as exhibits, and the checks that
keep hostile files out.

The name and the declared type of an upload are never trusted. A file is one of the accepted
types when its first bytes say so *and* the parser for that type reads it whole: a PDF opens
in PDFium with at least one page, an image decodes completely within a pixel budget (a small
file that claims a huge canvas is a decompression bomb), audio and video demux and decode in
FFmpeg. A file that is two things at once (a polyglot: an image that a PDF reader would also
open, a PDF with an archive appended) is refused, since two viewers would show two different
exhibits under one hash.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import av
import pypdfium2
from PIL import Image

#: The default budget for a decoded image: 60 megapixels (a 48 MP phone photo fits).
MAX_PIXELS = 60_000_000
#: PDFs beyond this many pages are refused: nobody presents them, a bomb might be one.
MAX_PAGES = 5_000
# PDF readers accept "%PDF-" anywhere in the first 1024 bytes: another type with the marker
# there would open as a PDF too.
_PDF_MARKER_WINDOW = 1024
# How far from the end the last "%%EOF" of a PDF may be looked for.
_PDF_TAIL = 1024 * 1024
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


class MediaType(StrEnum):
    """The accepted exhibit types, as MIME types."""

    PDF = "application/pdf"
    JPEG = "image/jpeg"
    PNG = "image/png"
    MP3 = "audio/mpeg"
    MP4 = "video/mp4"
    WEBM = "video/webm"

    @property
    def is_image(self) -> bool:
        return self in (MediaType.JPEG, MediaType.PNG)

    @property
    def is_av(self) -> bool:
        """Audio or video: played, not paged."""
        return self in (MediaType.MP3, MediaType.MP4, MediaType.WEBM)


class ContentRejected(Exception):
    """The file is not an acceptable exhibit; ``code`` says why in one word."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ContentInfo:
    """What a checked file holds."""

    media_type: MediaType
    pages: int | None = None  # PDF
    width: int | None = None  # images and video
    height: int | None = None
    duration_s: float | None = None  # audio and video
    has_video: bool = False
    has_audio: bool = False


def sniff(head: bytes) -> MediaType:
    """The type the first bytes of a file announce (at least 12 bytes are needed)."""
    if head.startswith(b"%PDF-"):
        return MediaType.PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return MediaType.JPEG
    if head[4:8] == b"ftyp":
        return MediaType.MP4
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaType.WEBM
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return MediaType.MP3
    raise ContentRejected(
        "unsupported_type", "only PDF, JPEG, PNG, MP3, MP4 and WebM files are accepted"
    )


def inspect_file(path: Path, *, max_pixels: int = MAX_PIXELS) -> ContentInfo:
    """Check the file at ``path`` and say what it is; raise :class:`ContentRejected` if it is
    not an acceptable exhibit. Blocking (it parses the whole file): run it in a thread."""
    size = path.stat().st_size
    if size == 0:
        raise ContentRejected("empty_file", "the file is empty")
    with path.open("rb") as f:
        head = f.read(_PDF_MARKER_WINDOW)
    kind = sniff(head)
    if kind is not MediaType.PDF and b"%PDF-" in head:
        raise ContentRejected(
            "polyglot", f"the file is a {kind.value} that a PDF reader would also open"
        )
    if kind is MediaType.PDF:
        return _pdf(path, size)
    if kind.is_image:
        return _image(path, kind, max_pixels)
    return _av(path, kind)


def _pdf(path: Path, size: int) -> ContentInfo:
    with path.open("rb") as f:
        f.seek(max(0, size - _PDF_TAIL))
        tail = f.read()
    end = tail.rfind(b"%%EOF")
    if end < 0:
        raise ContentRejected("malformed_pdf", "the PDF has no end-of-file marker")
    if tail[end + 5 :].strip(b"\r\n\t \x00"):
        raise ContentRejected(
            "polyglot", "the PDF carries other data after its end (a file hidden inside it)"
        )
    try:
        doc = pypdfium2.PdfDocument(str(path))
    except pypdfium2.PdfiumError as exc:
        code = "encrypted_pdf" if "password" in str(exc).lower() else "malformed_pdf"
        raise ContentRejected(code, f"the PDF cannot be read: {exc}") from None
    try:
        pages = len(doc)
    finally:
        doc.close()
    if pages < 1:
        raise ContentRejected("malformed_pdf", "the PDF has no pages")
    if pages > MAX_PAGES:
        raise ContentRejected("too_many_pages", f"the PDF has {pages} pages (at most {MAX_PAGES})")
    return ContentInfo(MediaType.PDF, pages=pages)


def _image(path: Path, kind: MediaType, max_pixels: int) -> ContentInfo:
    with path.open("rb") as f:
        f.seek(-min(64 * 1024, path.stat().st_size), 2)
        tail = f.read()
    if kind is MediaType.PNG and not tail.endswith(_PNG_END):
        raise ContentRejected("polyglot", "the PNG carries other data after its end")
    if kind is MediaType.JPEG and not tail.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise ContentRejected("polyglot", "the JPEG carries other data after its end")
    try:
        with warnings.catch_warnings():
            # PIL only warns about a bomb below twice its own limit: ours is an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                if im.format != ("PNG" if kind is MediaType.PNG else "JPEG"):
                    raise ContentRejected("malformed_image", f"not a {kind.value} image")
                if width * height > max_pixels:
                    raise ContentRejected(
                        "decompression_bomb",
                        f"the image claims {width}x{height} pixels (at most {max_pixels})",
                    )
                im.load()
    except ContentRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ContentRejected("decompression_bomb", str(exc)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ContentRejected("malformed_image", f"the image cannot be read: {exc}") from None
    return ContentInfo(kind, width=width, height=height)


# FFmpeg's demuxer names for each type: an MP3 must be read as MP3, not sniffed into anything.
_AV_FORMATS = {MediaType.MP3: "mp3", MediaType.MP4: "mp4", MediaType.WEBM: "webm"}


def _av(path: Path, kind: MediaType) -> ContentInfo:
    try:
        with av.open(str(path), format=_AV_FORMATS[kind]) as container:
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            if kind is MediaType.MP3 and audio is None:
                raise ContentRejected("malformed_media", "the MP3 has no audio")
            if video is None and audio is None:
                raise ContentRejected("malformed_media", "the file has no audio or video")
            # Decode the first frame of each stream: a header over garbage fails here.
            for stream in (s for s in (video, audio) if s is not None):
                frame = next(iter(container.decode(stream)), None)
                if frame is None:
                    raise ContentRejected(
                        "malformed_media", f"the {stream.type} stream has no decodable frame"
                    )
                container.seek(0)
            duration = container.duration / 1_000_000 if container.duration is not None else None
            return ContentInfo(
                kind,
                width=video.codec_context.width if video is not None else None,
                height=video.codec_context.height if video is not None else None,
                duration_s=duration,
                has_video=video is not None,
                has_audio=audio is not None,
            )
    except ContentRejected:
        raise
    except (av.FFmpegError, OSError, ValueError, StopIteration) as exc:
        raise ContentRejected("malformed_media", f"the file cannot be played: {exc}") from None
