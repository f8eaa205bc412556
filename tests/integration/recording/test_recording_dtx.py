"""A microphone that pauses for silence (Opus DTX, which the server asks browsers for: a
frame every 400 ms instead of every 20 ms) is recorded on its true timeline: the pause is
kept as time in the file, not squeezed out, nothing is counted lost or discontinuous, and
the segments are cut on time as for a microphone that never paused."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import recording_media as rm
from recording_harness import Recorded, record_sources

from recording import RecordingSession, load_or_create_signing_key

FRAME_S = 0.02
DTX_FROM, DTX_TO = 150, 650  # frames: 3 s to 13 s into the track, across a segment cut
DTX_EVERY = 20  # Chromium: one frame every 400 ms while silent


def _dtx_skips() -> set[int]:
    return {i for i in range(DTX_FROM, DTX_TO) if (i - DTX_FROM) % DTX_EVERY}


async def _record(root: Path) -> Recorded:
    key = load_or_create_signing_key(root / "recording.key")

    async def add(session: RecordingSession) -> list[rm.FrameSource]:
        assert session.clock is not None
        frames = rm.as_frames(
            rm.encode_audio("opus"),
            pid="party",
            mono_start=session.clock.mono_start,
            offset=0.4,
            rtp_base=99_000,
            skip=_dtx_skips(),
        )
        source = rm.FrameSource(frames)
        await session.add_track("party", "audio", "张三", "party", source)
        return [source]

    return await record_sources(root / "recordings", key, add)


def test_a_dtx_pause_is_recorded_as_time(tmp_path: Path) -> None:
    recorded = asyncio.run(_record(tmp_path))
    directory = recorded.directory
    entries = [
        json.loads(line)
        for line in (directory / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    segments = sorted(
        (e["data"] for e in entries if e["type"] == "segment"), key=lambda d: d["index"]
    )
    # cut at the first frame from 10 s on, as for a microphone that never paused; a cut
    # inside the pause falls on the next DTX frame (10.2 s), and the segments together span
    # the whole track, the pause included, with no hole longer than one DTX interval
    starts = [s["start_us"] / 1e6 for s in segments]
    ends = [s["start_us"] / 1e6 + s["duration_us"] / 1e6 for s in segments]
    assert [round(t, 2) for t in starts] == [0.4, 10.6, 20.6]
    assert abs(ends[-1] - 25.4) <= 0.05  # 25 s of audio from 0.4 s on
    assert all(0 <= b - a <= DTX_EVERY * FRAME_S for a, b in zip(ends, starts[1:], strict=False))
    ended = next(e["data"] for e in entries if e["type"] == "track_ended")
    assert ended["frames_lost"] == 0
    assert recorded.summary.signed and not recorded.alerts

    first = directory / segments[0]["file"]
    assert rm.ffmpeg_decodes(first) == ""
    packets = rm.ffprobe_packets(first, "a:0")
    times = [float(p["pts_time"]) for p in packets if int(p["size"]) > 3]
    # before the pause a frame every 20 ms; during it one every 400 ms, at their true times
    assert times[DTX_FROM - 1] - times[0] == round((DTX_FROM - 1) * FRAME_S, 2)
    pause = [t - times[0] for t in times[DTX_FROM : DTX_FROM + 3]]
    assert [round(t, 2) for t in pause] == [3.0, 3.4, 3.8]
    # and between them 20 ms of Opus silence each, so the file has a packet every 20 ms
    everything = [float(p["pts_time"]) for p in packets]
    steps = {round(b - a, 3) for a, b in itertools.pairwise(everything)}
    assert steps == {FRAME_S}
    silence = sum(1 for p in packets if int(p["size"]) <= 3)
    assert silence == segments[0]["streams"][0]["silence_packets"] > 0
    assert segments[0]["streams"][0]["packets"] == len(times)
    # the file lasts the whole segment, the pause included, for a plain decode too (which
    # would squeeze every pause out if it were not filled)
    assert abs(float(rm.ffprobe(first)["format"]["duration"]) - 10.0) <= 0.5
    for seg in segments:
        assert abs(rm.decoded_seconds(directory / seg["file"]) - seg["duration_us"] / 1e6) <= 0.1
