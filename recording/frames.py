"""What the recorder needs of an encoded frame, as a structural type.

``recording`` sits below the media layer and must not import it, not even for typing: the
media layer's ``EncodedFrame`` (and any test double) satisfies :class:`EncodedFrameLike`
structurally, so mypy still checks the call sites that hand taps to a recording session.
"""

from __future__ import annotations

from typing import Protocol


class EncodedFrameLike(Protocol):
    """One encoded frame of a track: exactly the attributes the recorder reads.

    ``payload``: a VP8 frame, an H.264 access unit in Annex-B form, or one Opus (or raw
    AAC-LC) packet. ``rtp_timestamp`` counts in ``clock_rate`` units and is unwrapped (no
    32-bit wrap). ``arrival`` is ``time.monotonic()`` when the frame was complete.
    """

    # Read-only properties rather than plain attributes, so that frozen dataclasses match.
    @property
    def codec(self) -> str: ...  # MIME type: video/VP8, video/H264, audio/opus, audio/aac

    @property
    def payload(self) -> bytes: ...

    @property
    def rtp_timestamp(self) -> int: ...

    @property
    def clock_rate(self) -> int: ...

    @property
    def keyframe(self) -> bool: ...  # trusted only for codecs whose bitstream it cannot read

    @property
    def arrival(self) -> float: ...
