"""Pin aiortc's VP8 encoder to one bitrate in this process.

aiortc's ``Vp8Encoder`` starts at 500 kbps and follows the receiver's REMB between
250 kbps and 1.5 Mbps. The benchmark wants a steady ~1 Mbps whoever receives (the SFU
or the direct call), so all three module constants are set to the same value: the
encoder starts there and REMB clamps back to it.
"""

from __future__ import annotations

import aiortc.codecs.vpx as vpx


def pin_vp8_bitrate(bits_per_second: int) -> None:
    vpx.DEFAULT_BITRATE = bits_per_second
    vpx.MIN_BITRATE = bits_per_second
    vpx.MAX_BITRATE = bits_per_second
