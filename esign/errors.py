"""The errors of the e-signature package: one base class, each carrying a stable ``code``.

The application maps ``code`` to its own API errors; the message is for people (logs, CLI).
They subclass ``ValueError`` because every one of them is caused by input the caller gave us
(a document field, an image, a PDF in the wrong state), not by a fault of ours.
"""

from __future__ import annotations


class EsignError(ValueError):
    """Base of every error this package raises on purpose; ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.args[0]}"

    def __reduce__(self) -> tuple[type[EsignError], tuple[str, str]]:
        # Pickled by the signing worker's child back to the server: rebuilt with both fields.
        return (type(self), (self.code, str(self.args[0])))


class DocumentError(EsignError):
    """A field of the agreement document is missing, too large or malformed."""


class FontMissingError(EsignError):
    """The CJK font file (Debian package fonts-wqy-zenhei) is not installed."""


class ImageError(EsignError):
    """A drawn signature or seal image is not an acceptable PNG."""


class SigningStateError(EsignError):
    """The PDF is not in a state that allows this signature (sealed, field signed, no field)."""


class AuthorityError(EsignError):
    """The signing authority's files are missing, unreadable or inconsistent."""
