"""The one exception type the media layer raises on purpose."""

from __future__ import annotations


class MediaError(Exception):
    """A media operation failed; ``code`` is stable and machine-readable.

    Codes: ``invalid_sdp``, ``unsupported_codec``, ``invalid_participant_id``,
    ``unknown_participant``, ``no_offer_pending``, ``stale_answer``,
    ``negotiation_failed``, ``invalid_candidate``, ``invalid_argument``, ``closed``,
    ``aiortc_incompatible``, ``unknown_track`` (no such track to tap),
    ``participant_id_in_use`` (a participant's id given to a server source, or back).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
