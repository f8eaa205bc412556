"""Killing the recording process mid-hearing: finished segments stay playable and verify as
"unsigned but intact", which is told apart from tampering."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import recording_media as rm

from recording import ProblemKind, Severity, Status, inspect_recording
from recording.cli import main as verify_main

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def _segment_entries(directory: Path) -> list[dict[str, object]]:
    path = directory / "manifest.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().split(b"\n"):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry["type"] == "segment":
            out.append(entry["data"])
    return out


def _record_and_kill(tmp_path: Path) -> Path:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), str(REPO)]))
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "recording_crash_child.py"), str(tmp_path / "rec"),
         str(tmp_path / "recording.key")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        directory = Path(proc.stdout.readline().strip())
        assert directory.is_dir(), proc.stderr.read() if proc.stderr else ""
        deadline = time.monotonic() + 30
        while len(_segment_entries(directory)) < 6:  # about 3 s of each track
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the child wrote too few segments"
            time.sleep(0.05)
        time.sleep(0.3)  # land somewhere inside the next segment
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return directory


def test_sigkill_leaves_finished_segments_playable_and_verifiable(tmp_path: Path) -> None:
    directory = _record_and_kill(tmp_path)
    segments = _segment_entries(directory)
    assert len(segments) >= 6
    for seg in segments:
        path = directory / str(seg["file"])
        assert path.exists(), seg["file"]
        probe = rm.ffprobe(path)
        duration = float(probe["format"]["duration"])
        assert abs(duration - int(seg["duration_us"]) / 1e6) <= 0.5  # type: ignore[call-overload]
        assert rm.ffmpeg_decodes(path) == ""

    report = inspect_recording(directory)
    assert report.status is Status.UNSIGNED, [str(p) for p in report.problems]
    assert not report.errors
    first = report.problems[0]
    assert first.kind is ProblemKind.NOT_FINALIZED and first.severity is Severity.WARNING
    assert first.message.startswith(f"unsigned: {len(segments)} segments intact")
    # The crash cut off the segments being written: reported, but not as tampering.
    unfinished = [p for p in report.problems if p.kind is ProblemKind.UNFINISHED_SEGMENT]
    assert all(p.severity is Severity.WARNING and p.path for p in unfinished)
    assert {p.kind for p in report.problems} <= {
        ProblemKind.NOT_FINALIZED,
        ProblemKind.UNFINISHED_SEGMENT,
        ProblemKind.TORN_ENTRY,
        ProblemKind.FILE_NOT_RENAMED,
    }
    # Checkpoint signatures cover the entries written before the crash.
    assert report.signed_entries >= len(segments)
    assert verify_main([str(directory)]) == 3

    # Tampering with a crashed recording is still tampering.
    target = directory / str(segments[1]["file"])
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    report = inspect_recording(directory)
    assert report.status is Status.FAILED
    assert [p.path for p in report.errors] == [segments[1]["file"]]
    assert verify_main([str(directory)]) == 1
