"""What a finished recording holds, checked with ffprobe/ffmpeg (not PyAV): every segment
readable and as long as the manifest says, video cut on keyframes, audio cut on time, tracks
placed on the hearing clock, the whole thing verifiable."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import recording_media as rm
from recording_harness import Recorded

from recording import Status, inspect_recording, verify_recording


def _entries(directory: Path) -> list[dict[str, Any]]:
    lines = (directory / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _segments(directory: Path, track_prefix: str | None = None) -> list[dict[str, Any]]:
    out = [e["data"] for e in _entries(directory) if e["type"] == "segment"]
    if track_prefix is not None:
        out = [d for d in out if d["track"].endswith(track_prefix)]
    return sorted(out, key=lambda d: (d["track"], d["index"]))


def test_every_segment_plays_and_lasts_what_the_manifest_says(
    finished_recording: Recorded,
) -> None:
    directory = finished_recording.directory
    segments = _segments(directory)
    assert len(segments) == 12  # four tracks of 25 s, three segments each
    for seg in segments:
        path = directory / seg["file"]
        probe = rm.ffprobe(path)
        duration = float(probe["format"]["duration"])
        assert abs(duration - seg["duration_us"] / 1e6) <= 0.5, (seg["file"], duration)
        assert seg["complete"] is True
        assert rm.ffmpeg_decodes(path) == "", seg["file"]
    # Every file on disk is either a segment or one of the three manifest files.
    on_disk = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    listed = {s["file"] for s in segments} | {"manifest.jsonl", "manifest.sig", "public_key.pem"}
    assert on_disk == listed


def test_containers_and_codecs(finished_recording: Recorded) -> None:
    directory = finished_recording.directory
    expected = {
        "video-judge": ("webm", ["vp8"]),
        "audio-judge": ("webm", ["opus"]),
        "video-party": ("mkv", ["h264"]),
        "composite": ("mp4", ["h264", "opus"]),
    }
    for suffix, (ext, codec_names) in expected.items():
        segs = _segments(directory, suffix)
        assert len(segs) == 3, suffix
        for seg in segs:
            assert seg["file"].endswith("." + ext)
            probe = rm.ffprobe(directory / seg["file"])
            assert [s["codec_name"] for s in probe["streams"]] == codec_names
            video = [s for s in probe["streams"] if s["codec_type"] == "video"]
            if video:
                assert (video[0]["width"], video[0]["height"]) == (320, 240)
                assert (seg["width"], seg["height"]) == (320, 240)
    comp_audio = rm.ffprobe(directory / _segments(directory, "composite")[0]["file"])["streams"][1]
    assert comp_audio["channels"] == 2


def test_video_is_cut_at_the_first_keyframe_after_the_segment_length(
    finished_recording: Recorded,
) -> None:
    directory = finished_recording.directory
    # Test input: keyframes every 3 s (composite: every 2 s), 10 s segments.
    for suffix, first_offset, cuts in (
        ("video-judge", 0.5, [0.0, 12.0, 24.0]),
        ("video-party", 1.25, [0.0, 12.0, 24.0]),
        ("composite", 0.2, [0.0, 10.0, 20.0]),
    ):
        segs = _segments(directory, suffix)
        starts = [round(s["start_us"] / 1e6 - first_offset, 3) for s in segs]
        assert starts == cuts, suffix
        for seg in segs:
            assert seg["starts_with_keyframe"] is True
            packets = rm.ffprobe_packets(directory / seg["file"])
            assert packets[0]["flags"].startswith("K"), seg["file"]
            assert float(packets[0]["pts_time"]) == pytest.approx(0.0, abs=0.002)
            # Keyframes inside a segment only where the input had them (every gop).
            keys = [float(p["pts_time"]) for p in packets if p["flags"].startswith("K")]
            assert keys[0] == pytest.approx(0.0, abs=0.002)
        # Segments tile the track: each ends where the next starts.
        for a, b in itertools.pairwise(segs):
            assert a["start_us"] + a["duration_us"] == pytest.approx(b["start_us"], abs=2000)


def test_audio_is_cut_on_time(finished_recording: Recorded) -> None:
    segs = _segments(finished_recording.directory, "audio-judge")
    assert [round(s["duration_us"] / 1e6, 2) for s in segs[:2]] == [10.0, 10.0]
    assert segs[2]["duration_us"] / 1e6 == pytest.approx(5.0, abs=0.1)
    assert [s["start_us"] for s in segs] == [400_000, 10_400_000, 20_400_000]


def test_tracks_are_placed_on_the_hearing_clock(finished_recording: Recorded) -> None:
    entries = _entries(finished_recording.directory)
    started = entries[0]
    assert started["type"] == "recording_started"
    assert started["data"]["metadata"]["case_number"] == "(2026)京0105民初12345号"
    tracks = {
        (e["data"]["track"], e["data"]["stream"]): e["data"]
        for e in entries
        if e["type"] == "track_started"
    }
    offsets = {key: data["start_offset_us"] for key, data in tracks.items()}
    assert offsets == {
        ("t001-video-judge", 0): 500_000,
        ("t002-audio-judge", 0): 400_000,
        ("t003-video-party", 0): 1_250_000,
        ("t004-composite", 0): 200_000,
        ("t004-composite", 1): 200_000,
    }
    judge = tracks[("t001-video-judge", 0)]
    assert (judge["pid"], judge["name"], judge["role"], judge["codec"]) == (
        "judge",
        "王法官",
        "judge",
        "video/vp8",
    )
    ended = [e["data"] for e in entries if e["type"] == "track_ended"]
    assert len(ended) == 4
    assert all(d["frames_lost"] == 0 and d["reason"] == "ended" for d in ended)
    assert entries[-1]["type"] == "recording_stopped"
    assert entries[-1]["data"]["segments"] == 12


def test_the_finished_recording_verifies(finished_recording: Recorded) -> None:
    summary = finished_recording.summary
    assert summary.signed and summary.segments == 12 and summary.frames_lost == 0
    assert finished_recording.alerts == []
    assert verify_recording(summary.directory) == []
    report = inspect_recording(summary.directory)
    assert report.status is Status.OK
    assert report.final and report.signed_entries == report.entries == summary.entries
    assert report.segments == report.segments_intact == 12
