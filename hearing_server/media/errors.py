"""The one exception type the media layer raises on purpose."""

from __future__ import annotations


class MediaError(Exception):
    """A media operation failed; ``code`` is stable and machine-readable.

    Codes: ``invalid_sdp``, ``unsupported_codec``, ``invalid_participant_id``,
    ``unknown_participant``, ``no_offer_pending``, ``stale_answer``,
    ``negotiation_failed``, ``invalid_candidate``, ``invalid_argument``, ``closed``,
    ``aiortc_incompatible``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
