"""Exhibit files: what an uploaded file really is, where it is kept, and how it is shown.

A ground-floor library (it never imports ``hearing_server``):

- :mod:`.content`: the type of a file from its content (never its name), and the checks that
  refuse malformed files, polyglots and decompression bombs;
- :mod:`.files`: resumable uploads into a staging area and the store of sealed files, each
  written once, read-only afterwards, named by the server and never by the uploader;
- :mod:`.render`: pages of a PDF (PDFium) and images fitted into a frame, for the viewer and
  for the courtroom composite.
"""

from .content import ContentInfo, ContentRejected, MediaType, inspect_file
from .files import ExhibitFiles, UploadState
from .render import PageRenderer

__all__ = [
    "ContentInfo",
    "ContentRejected",
    "ExhibitFiles",
    "MediaType",
    "PageRenderer",
    "UploadState",
    "inspect_file",
]
