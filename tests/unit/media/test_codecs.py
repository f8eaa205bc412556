"""Which publisher codecs the SFU accepts, in the offerer's order."""

from __future__ import annotations

import pytest
from aiortc.sdp import SessionDescription

from hearing_server.media.codecs import choose_codec


def _media(kind: str, rtpmaps: list[tuple[int, str, str]]) -> SessionDescription:
    pts = " ".join(str(pt) for pt, _, _ in rtpmaps)
    lines = [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        f"m={kind} 9 UDP/TLS/RTP/SAVPF {pts}",
        "a=mid:0",
    ]
    for pt, name, fmtp in rtpmaps:
        lines.append(f"a=rtpmap:{pt} {name}")
        if fmtp:
            lines.append(f"a=fmtp:{pt} {fmtp}")
    return SessionDescription.parse("\r\n".join(lines) + "\r\n")


CB = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"


@pytest.mark.parametrize(
    ("rtpmaps", "expected"),
    [
        ([(96, "VP8/90000", "")], "video/VP8"),
        ([(102, "H264/90000", CB), (96, "VP8/90000", "")], "video/H264"),
        ([(102, "H264/90000", "packetization-mode=1;profile-level-id=42e034")], "video/H264"),
        (
            [
                (102, "H264/90000", "packetization-mode=0;profile-level-id=42e01f"),
                (96, "VP8/90000", ""),
            ],
            "video/VP8",
        ),
        ([(100, "H264/90000", "packetization-mode=1;profile-level-id=640c1f")], None),
        ([(96, "VP9/90000", ""), (97, "rtx/90000", "apt=96")], None),
    ],
)
def test_video_codec_choice(rtpmaps: list[tuple[int, str, str]], expected: str | None) -> None:
    codec = choose_codec(_media("video", rtpmaps).media[0])
    assert (codec.mime_type if codec else None) == expected
    if codec is not None:
        assert [c.mimeType for c in codec.preferences()] == [expected, "video/rtx"]


def test_audio_is_opus_only() -> None:
    opus = choose_codec(_media("audio", [(0, "PCMU/8000", ""), (111, "opus/48000/2", "")]).media[0])
    assert opus is not None and opus.mime_type == "audio/opus" and opus.rtx is None
    assert choose_codec(_media("audio", [(0, "PCMU/8000", "")]).media[0]) is None
