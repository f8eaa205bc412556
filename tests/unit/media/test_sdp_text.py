"""Text edits of SDP: msid of inactive sections, bitrate hints and Opus DTX in the publish
answer."""

from __future__ import annotations

from aiortc.sdp import SessionDescription

from hearing_server.media.sdp_text import (
    add_video_bitrate_hints,
    ask_opus_dtx,
    decline_remb,
    strip_inactive_msid,
)

HEAD = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n"


def _section(kind: str, mid: str, direction: str, msid: str, port: int = 9) -> str:
    pt = "111" if kind == "audio" else "96"
    codec = "opus/48000/2" if kind == "audio" else "VP8/90000"
    return (
        f"m={kind} {port} UDP/TLS/RTP/SAVPF {pt}\r\nc=IN IP4 0.0.0.0\r\na={direction}\r\n"
        f"a=mid:{mid}\r\na=msid:{msid}\r\na=rtcp-mux\r\na=rtpmap:{pt} {codec}\r\n"
    )


def test_inactive_and_rejected_sections_lose_their_msid() -> None:
    sdp = (
        HEAD
        + _section("video", "0", "inactive", "alice alice-video-0")
        + _section("video", "1", "sendonly", "alice alice-video-0")
        + _section("audio", "2", "sendonly", "bob bob-audio-1", port=0)
    )
    out = strip_inactive_msid(sdp)
    assert out.count("a=msid:") == 1
    assert "a=mid:1\r\na=msid:alice alice-video-0\r\n" in out
    assert out.replace("a=msid:alice alice-video-0\r\n", "", 1).count("alice") == 0
    assert out.endswith("\r\n") and "\r\n\r\n" not in out
    parsed = SessionDescription.parse(out)
    assert [m.msid for m in parsed.media] == [None, "alice alice-video-0", None]


def test_live_sections_are_left_alone() -> None:
    sdp = (
        HEAD + _section("video", "0", "sendonly", "a t") + _section("audio", "1", "sendrecv", "a u")
    )
    assert strip_inactive_msid(sdp) == sdp


ANSWER = (
    HEAD + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=recvonly\r\n"
    "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:1\r\na=recvonly\r\n"
    "a=rtcp-fb:96 goog-remb\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 102 103\r\na=mid:2\r\na=recvonly\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=fmtp:102 packetization-mode=1;profile-level-id=42e01f;x-google-max-bitrate=9\r\n"
    "a=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\n"
)


def test_bitrate_hints_go_into_vp8_and_h264_fmtp_only() -> None:
    out = add_video_bitrate_hints(ANSWER, min_kbps=300, start_kbps=1000, max_kbps=2500)
    hints = "x-google-start-bitrate=1000;x-google-min-bitrate=300;x-google-max-bitrate=2500"
    # VP8 had no fmtp: one is added right after its rtpmap
    assert f"a=rtpmap:96 VP8/90000\r\na=fmtp:96 {hints}\r\n" in out
    # H.264 keeps its parameters; an existing hint is replaced, not repeated
    assert f"a=fmtp:102 packetization-mode=1;profile-level-id=42e01f;{hints}\r\n" in out
    assert "x-google-max-bitrate=9" not in out
    # audio, RTX and everything else untouched
    assert "a=fmtp:111 minptime=10;useinbandfec=1\r\n" in out
    assert "a=fmtp:97 apt=96\r\n" in out and "a=fmtp:103 apt=102\r\n" in out
    assert "a=rtcp-fb:96 goog-remb\r\n" in out
    parsed = SessionDescription.parse(out)
    vp8 = parsed.media[1].rtp.codecs[0]
    assert str(vp8.parameters["x-google-start-bitrate"]) == "1000"


def test_zero_leaves_a_hint_out() -> None:
    out = add_video_bitrate_hints(ANSWER, min_kbps=0, start_kbps=800, max_kbps=0)
    assert "a=fmtp:96 x-google-start-bitrate=800\r\n" in out
    assert "min-bitrate" not in out
    assert add_video_bitrate_hints(ANSWER, 0, 0, 0) == ANSWER


def test_declining_remb_drops_abs_send_time_and_goog_remb_from_video_only() -> None:
    abs_send_time = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    sdp = (
        HEAD + f"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=extmap:2 {abs_send_time}\r\n"
        "a=rtpmap:111 opus/48000/2\r\n"
        f"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=extmap:2 {abs_send_time}\r\n"
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=rtcp-fb:96 nack\r\n"
        "a=rtcp-fb:96 goog-remb\r\na=rtpmap:96 VP8/90000\r\n"
    )
    out = decline_remb(sdp)
    video = out.split("m=video", 1)[1]
    assert "abs-send-time" not in video and "goog-remb" not in video
    assert "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n" in video
    assert "a=rtcp-fb:96 nack\r\n" in video
    assert f"a=extmap:2 {abs_send_time}\r\n" in out.split("m=video", 1)[0]  # audio untouched


def test_opus_dtx_and_fec_go_into_every_opus_fmtp_only() -> None:
    out = ask_opus_dtx(ANSWER)
    # an existing Opus fmtp keeps its parameters; useinbandfec is not repeated
    assert "a=fmtp:111 minptime=10;usedtx=1;useinbandfec=1\r\n" in out
    assert out.count("useinbandfec") == 1
    # video untouched
    assert out.split("m=video", 1)[1] == ANSWER.split("m=video", 1)[1]
    parsed = SessionDescription.parse(out)
    opus = parsed.media[0].rtp.codecs[0]
    assert str(opus.parameters["usedtx"]) == "1"
    # aiortc's own answer has no Opus fmtp line: one is added after the rtpmap
    bare = HEAD + _section("audio", "0", "recvonly", "a b")
    assert "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 usedtx=1;useinbandfec=1\r\n" in (
        ask_opus_dtx(bare)
    )
