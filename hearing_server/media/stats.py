"""Counters of the media layer (monotonic; read with ``MediaRouter.stats()``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class MediaCounters:
    """Counted where the work really happens, so they are evidence, not bookkeeping.

    ``decoded_frames`` counts encoded frames handed to aiortc's decoder thread by any
    publisher receiver, ``encoded_frames`` counts ``encode`` calls on subscriber senders:
    both stay 0 while the server only forwards.

    ``received_packets``/``received_bytes`` count publishers' RTP packets and their payload
    bytes as they reach a forwarder; ``forwarded_bytes`` counts the payload bytes of the
    packets sent to subscribers (RTP headers and SRTP overhead not included; counted by the
    direct sender, which sums them for aiortc's stats anyway). Plain integer
    increments on the packet path: a scrape reads them, nothing is computed per packet.

    ``tap_decoded_frames`` counts frames the tap decoders produced (decode on demand, only
    while a decoded tap is open); ``tap_dropped_frames`` counts frames taps lost because a
    consumer or a decoder fell behind.
    """

    received_packets: int = 0
    received_bytes: int = 0
    forwarded_packets: int = 0
    forwarded_bytes: int = 0
    forwarded_frames: int = 0
    dropped_frames: int = 0
    keyframe_requests_received: int = 0
    keyframe_requests_sent_upstream: int = 0
    keyframe_requests_retried: int = 0  # asked again: the last went unanswered
    decoded_frames: int = 0
    encoded_frames: int = 0
    offers_sent: int = 0
    tap_decoded_frames: int = 0
    tap_dropped_frames: int = 0

    def snapshot(self) -> dict[str, int]:
        return asdict(self)
