"""Small edits to SDP text that aiortc has no API for (plain text in, text out).

* ``strip_inactive_msid``: an inactive section carries no media, so its ``a=msid`` means
  nothing; Chromium refuses a whole description in which two sections share an msid
  ("Duplicate a=msid lines detected"), even when one of them is inactive.
* ``add_video_bitrate_hints``: Chromium's send-side bandwidth estimate starts at 300 kbps
  and, fed aiortc's REMB, climbs slowly; a 640x360 camera is scaled down to 480x270 meanwhile.
  ``x-google-start-bitrate``/``min``/``max`` in the answer's video fmtp set where it starts
  and the range it stays in (other browsers ignore these parameters).
* ``ask_opus_dtx``: ``usedtx=1`` (and ``useinbandfec=1``) in the publish answer's Opus
  fmtp asks the browser to stop sending while its microphone hears silence (a comfort-noise
  frame every 400 ms instead of 50 packets a second) and to carry a low-rate copy of each
  frame in the next one. In a nine-party hearing where one person speaks, the eight silent
  microphones were 400 of the 450 audio packets a second the server received, and 3,200
  of the 3,600 it sent on (issue 29); RFC 7587 section 7.
* ``decline_remb``: aiortc's receiver sends REMB computed from abs-send-time. It follows
  the incoming rate: a still picture pulls it down to a few hundred kbps, and when the
  picture starts moving the burst reads as congestion, so Chromium drops to 480x270 and
  ~12 fps for seconds. Leaving abs-send-time out of the publish answer means no REMB at
  all, and Chromium's loss-based estimate, within the bitrate hints, decides alone.
  (Leaving out only ``goog-remb`` changes nothing: Chromium still obeys REMB packets.)
"""

from __future__ import annotations

import re

_DIRECTIONS = ("a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive")
_RTPMAP = re.compile(r"a=rtpmap:(\d+) ([^/\s]+)/")
_FMTP = re.compile(r"a=fmtp:(\d+) ?(.*)")
_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
_BITRATE_KEYS = ("x-google-start-bitrate", "x-google-min-bitrate", "x-google-max-bitrate")


def _split(sdp: str) -> tuple[str, str, list[list[str]]]:
    """(line ending, session part, each media section as its lines incl. the m= line)."""
    eol = "\r\n" if "\r\n" in sdp else "\n"
    lines = sdp.split(eol)
    if lines and lines[-1] == "":
        lines.pop()
    head: list[str] = []
    sections: list[list[str]] = []
    for line in lines:
        if line.startswith("m="):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
        else:
            head.append(line)
    return eol, eol.join(head), sections


def _join(eol: str, session: str, sections: list[list[str]]) -> str:
    lines = [session, *(eol.join(section) for section in sections)]
    return eol.join(lines) + eol


def section_direction(lines: list[str]) -> str:
    """The direction attribute of one media section (sendrecv if none is given)."""
    for line in lines:
        if line.strip() in _DIRECTIONS:
            return line.strip()[2:]
    return "sendrecv"


def strip_inactive_msid(sdp: str) -> str:
    """``sdp`` without the ``a=msid`` lines of its inactive (or port-0) sections."""
    eol, session, sections = _split(sdp)
    for i, lines in enumerate(sections):
        parts = lines[0].split()
        rejected = len(parts) > 1 and parts[1] == "0"
        if rejected or section_direction(lines) == "inactive":
            sections[i] = [line for line in lines if not line.startswith("a=msid:")]
    return _join(eol, session, sections)


def add_video_bitrate_hints(sdp: str, min_kbps: int, start_kbps: int, max_kbps: int) -> str:
    """Add ``x-google-{min,start,max}-bitrate`` to the fmtp of every VP8 and H.264 payload
    type of every video section (creating the fmtp line where there is none; replacing
    values already there). A value of 0 leaves that parameter out."""
    values = dict(zip(_BITRATE_KEYS, (start_kbps, min_kbps, max_kbps), strict=True))
    wanted = {key: value for key, value in values.items() if value > 0}
    return _set_fmtp(sdp, "m=video", ("VP8", "H264"), wanted)


def ask_opus_dtx(sdp: str) -> str:
    """``usedtx=1;useinbandfec=1`` in the fmtp of every Opus payload type of every audio
    section of ``sdp`` (an answer to a publisher)."""
    return _set_fmtp(sdp, "m=audio", ("OPUS",), {"usedtx": 1, "useinbandfec": 1})


def _set_fmtp(sdp: str, media: str, codec_names: tuple[str, ...], wanted: dict[str, int]) -> str:
    """Set ``wanted`` in the fmtp of each payload type of ``codec_names`` in every section
    starting with ``media``, creating the fmtp line where there is none."""
    if not wanted:
        return sdp
    eol, session, sections = _split(sdp)
    for i, lines in enumerate(sections):
        if not lines[0].startswith(media):
            continue
        pts = [
            m.group(1)
            for line in lines
            if (m := _RTPMAP.match(line)) and m.group(2).upper() in codec_names
        ]
        out: list[str] = []
        with_fmtp: set[str] = set()
        for line in lines:
            m = _FMTP.match(line)
            if m and m.group(1) in pts:
                with_fmtp.add(m.group(1))
                line = f"a=fmtp:{m.group(1)} {_merge(m.group(2), wanted)}"
            out.append(line)
        for pt in pts:
            if pt in with_fmtp:
                continue
            at = next(n for n, line in enumerate(out) if line.startswith(f"a=rtpmap:{pt} "))
            out.insert(at + 1, f"a=fmtp:{pt} {_merge('', wanted)}")
        sections[i] = out
    return _join(eol, session, sections)


def _merge(params: str, wanted: dict[str, int]) -> str:
    kept = [p for p in params.split(";") if p.strip() and p.split("=", 1)[0].strip() not in wanted]
    kept.extend(f"{key}={value}" for key, value in wanted.items())
    return ";".join(kept)


def decline_remb(sdp: str) -> str:
    """``sdp`` (an answer) without the abs-send-time extension and goog-remb feedback in
    its video sections: the browser then sends no abs-send-time, so aiortc sends no REMB."""
    eol, session, sections = _split(sdp)
    for i, lines in enumerate(sections):
        if lines[0].startswith("m=video"):
            sections[i] = [
                line
                for line in lines
                if not (line.startswith("a=extmap:") and line.split()[1:2] == [_ABS_SEND_TIME])
                and not (line.startswith("a=rtcp-fb:") and line.split()[1:2] == ["goog-remb"])
            ]
    return _join(eol, session, sections)
