"""Settings of the media layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MediaSettings:
    """How the SFU gathers, connects and paces keyframe requests.

    ``announced_host_addresses``: the local addresses the server's peers gather host
    candidates on (like mediasoup's listenIps). aioice normally skips loopback; listing
    ``127.0.0.1`` here makes it usable. Empty means aioice's default (every non-loopback
    interface address).

    ``ice_servers``: dicts with ``urls`` (str or list) and optional ``username`` /
    ``credential``. The list is always passed to aiortc explicitly, so an empty list means
    "no STUN/TURN at all" (aiortc would otherwise add a public Google STUN server).
    """

    announced_host_addresses: list[str] = field(default_factory=list)
    #: the UDP ports (inclusive) the server's peers bind their host candidates on; None: any
    #: port the kernel gives (a container that publishes a range, a firewall, need a range)
    port_range: tuple[int, int] | None = None
    ice_servers: list[dict[str, Any]] = field(default_factory=list)
    #: at most one PLI per publisher track per this many seconds (extra requests coalesce)
    keyframe_throttle_s: float = 0.3
    #: how long a subscriber may take to answer an offer before the server offers again
    negotiation_timeout_s: float = 15.0
    #: how long a missing video packet may be waited for (NACK/RTX) before giving up on it
    #: and waiting for a keyframe instead
    video_gap_timeout_s: float = 0.5
    #: the bitrate range (kbps) a publisher's browser is asked to send video in, and where
    #: its estimate starts (x-google-*-bitrate in the publish answer; Chromium's default
    #: start of 300 kbps scales a 640x360 camera down for the first ~20 s); 0 leaves one out.
    #: The maximum is what every subscriber of the publisher receives (no simulcast): a
    #: noisy 640x360 camera at 30 fps stays at full size and rate from 1200 kbps up.
    publish_video_min_kbps: int = 300
    publish_video_start_kbps: int = 1000
    publish_video_max_kbps: int = 1500
    #: let aiortc send REMB (its delay-based estimate) to publishers. Off: abs-send-time is
    #: declined in the publish answer, so the browser's loss-based estimate alone decides
    #: (aiortc's REMB tracks the incoming rate, so after a still picture a publisher that
    #: starts moving is throttled to ~250 kbps and 480x270 for seconds; see sdp_text.py)
    publish_remb: bool = False
    #: ask publishers' browsers for Opus DTX and in-band FEC (``usedtx=1;useinbandfec=1`` in
    #: the publish answer): a silent microphone then sends a frame every 400 ms instead of
    #: 50 a second, which the server need not receive, record or forward (see sdp_text.py)
    publish_opus_dtx: bool = True
