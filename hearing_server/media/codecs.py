"""Which codecs the SFU forwards, and how a publisher's codec is chosen and offered on.

Forwarding never transcodes, so a subscriber receives exactly the publisher's codec:
VP8, H.264 constrained baseline with packetization-mode=1 (profile-level-id 42e01f), Opus.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters
from aiortc.sdp import H264Profile, MediaDescription, parse_h264_profile_level_id

from .events import MediaKind

_H264_PROFILE_LEVEL_ID = "42e01f"


@dataclass(frozen=True)
class TrackCodec:
    """The codec of one forwarded track, with the capabilities to prefer on transceivers."""

    kind: MediaKind
    capability: RTCRtpCodecCapability
    rtx: RTCRtpCodecCapability | None

    @property
    def mime_type(self) -> str:
        return self.capability.mimeType

    @property
    def name(self) -> str:
        """``VP8``, ``H264`` or ``opus``."""
        return self.capability.mimeType.split("/", 1)[1]

    def preferences(self) -> list[RTCRtpCodecCapability]:
        """What to pass to ``setCodecPreferences`` so only this codec (and its RTX) is used."""
        return [self.capability] if self.rtx is None else [self.capability, self.rtx]


def _is_rtx(mime_type: str) -> bool:
    return mime_type.lower().endswith("/rtx")


def _supported(kind: str) -> list[RTCRtpCodecCapability]:
    result = []
    for cap in RTCRtpSender.getCapabilities(kind).codecs:
        mime = cap.mimeType.lower()
        h264_cb = (
            mime == "video/h264"
            and str(cap.parameters.get("packetization-mode")) == "1"
            and str(cap.parameters.get("profile-level-id", "")).lower() == _H264_PROFILE_LEVEL_ID
        )
        if mime in ("audio/opus", "video/vp8") or h264_cb:
            result.append(cap)
    return result


def _rtx_capability(kind: str) -> RTCRtpCodecCapability | None:
    for cap in RTCRtpSender.getCapabilities(kind).codecs:
        if _is_rtx(cap.mimeType):
            return cap
    return None


def _matches(offered: RTCRtpCodecParameters, cap: RTCRtpCodecCapability) -> bool:
    if offered.mimeType.lower() != cap.mimeType.lower() or offered.clockRate != cap.clockRate:
        return False
    if cap.mimeType.lower() != "video/h264":
        return True
    # Same rule as aiortc's own negotiation: the profile must match, the level may differ.
    if str(offered.parameters.get("packetization-mode", "0")) != "1":
        return False
    try:
        profile, _level = parse_h264_profile_level_id(
            str(offered.parameters.get("profile-level-id", "42e01f"))
        )
    except ValueError:
        return False
    return profile == H264Profile.PROFILE_CONSTRAINED_BASELINE


def choose_codec(media: MediaDescription) -> TrackCodec | None:
    """The first codec in the offerer's order that the SFU can forward, or None."""
    if media.kind not in ("audio", "video"):
        return None
    kind: MediaKind = "audio" if media.kind == "audio" else "video"
    supported = _supported(kind)
    for offered in media.rtp.codecs:
        if _is_rtx(offered.mimeType):
            continue
        for cap in supported:
            if _matches(offered, cap):
                rtx = _rtx_capability(kind) if kind == "video" else None
                return TrackCodec(kind=kind, capability=cap, rtx=rtx)
    return None


def supported_mime_types() -> list[str]:
    """MIME types (with H.264 parameters) the SFU forwards, for error messages and docs."""
    names = []
    for kind in ("audio", "video"):
        for cap in _supported(kind):
            extra = ""
            if cap.parameters:
                extra = ";" + ";".join(f"{k}={v}" for k, v in sorted(cap.parameters.items()))
            names.append(cap.mimeType + extra)
    return names


def codec_by_name(kind: MediaKind, name: str) -> TrackCodec | None:
    """The forwardable codec of ``kind`` called ``name`` (``VP8``, ``H264``, ``opus``, or a
    MIME type such as ``video/VP8``; case-insensitive), or None."""
    wanted = name.lower()
    if "/" not in wanted:
        wanted = f"{kind}/{wanted}"
    for cap in _supported(kind):
        if cap.mimeType.lower() == wanted:
            rtx = _rtx_capability(kind) if kind == "video" else None
            return TrackCodec(kind=kind, capability=cap, rtx=rtx)
    return None
