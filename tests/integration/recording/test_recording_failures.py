"""A failing writer raises an alert at once, the loss is counted and written down, and
recording resumes by itself once the fault is gone. The event loop is never blocked."""

from __future__ import annotations

import asyncio
import errno
import json
import time
from pathlib import Path
from typing import Any

import pytest
import recording_media as rm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recording import (
    AlertKind,
    RecordingAlert,
    RecordingOptions,
    RecordingSession,
    Status,
    inspect_recording,
)
from recording.manifest import ManifestWriter
from recording.segments import SegmentFile, SegmentWriteError
from support.waiting import wait_until

FAST = RecordingOptions(segment_seconds=1.0, retry_initial=0.5, retry_max=1.0, queue_frames=100_000)


class Alerts:
    def __init__(self) -> None:
        self.items: list[tuple[float, RecordingAlert]] = []

    async def __call__(self, alert: RecordingAlert) -> None:
        self.items.append((time.monotonic(), alert))

    def of(self, kind: AlertKind) -> list[RecordingAlert]:
        return [a for _, a in self.items if a.kind is kind]

    def first_at(self, kind: AlertKind) -> float:
        return next(t for t, a in self.items if a.kind is kind)


def _entries(directory: Path, kind: str | None = None) -> list[dict[str, Any]]:
    path = directory / "manifest.jsonl"
    out = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    return [e["data"] for e in out if kind is None or e["type"] == kind]


async def _session(root: Path, key: Ed25519PrivateKey, alerts: Alerts) -> RecordingSession:
    session = RecordingSession(root, "h-fail", signing_key=key, on_alert=alerts, options=FAST)
    await session.start()
    return session


async def test_unwritable_track_directory_alerts_and_recording_resumes(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    alerts = Alerts()
    session = await _session(tmp_path / "rec", signing_key, alerts)
    assert session.clock is not None
    # A real fault: a regular file where the track's directory has to go.
    blocker = session.directory / "t001-audio-p1"
    blocker.write_bytes(b"in the way")
    frames = rm.as_frames(rm.encode_audio("opus", seconds=8.0), pid="p1",
                          mono_start=session.clock.mono_start)  # fmt: skip
    source = rm.FrameSource(frames)
    source.limit = 100  # 2 s of audio while the fault lasts
    faulted_at = time.monotonic()
    await session.add_track("p1", "audio", "Party", "party", source)

    await wait_until(lambda: alerts.of(AlertKind.WRITE_FAILED), timeout=5, what="alert")
    assert alerts.first_at(AlertKind.WRITE_FAILED) - faulted_at < 2.0  # at once
    failed = alerts.of(AlertKind.WRITE_FAILED)[0]
    assert failed.track == "t001-audio-p1" and failed.pid == "p1"
    assert failed.severity == "error" and failed.retry_in == 0.5
    assert "Party (party, audio)" in failed.message and "Retrying" in failed.message
    assert failed.to_dict()["kind"] == "write_failed"

    await wait_until(lambda: source.yielded == 100, what="faulty frames consumed")
    blocker.unlink()  # the fault is removed
    source.release()
    await wait_until(lambda: source.exhausted and not session.tracks(), what="track done")
    summary = await session.stop()

    recovered = alerts.of(AlertKind.RECOVERED)
    assert len(recovered) == 1 and recovered[0].severity == "info"
    assert recovered[0].lost_frames >= 100
    (loss,) = _entries(summary.directory, "loss")
    assert loss["track"] == "t001-audio-p1" and loss["recovered"] is True
    assert loss["frames"] == recovered[0].lost_frames
    assert loss["from_us"] == 0 and loss["to_us"] >= 2_000_000
    assert "File exists" in loss["reason"] or "Not a directory" in loss["reason"]
    segments = _entries(summary.directory, "segment")
    assert segments and segments[0]["start_us"] == loss["to_us"]
    total = sum(s["duration_us"] for s in segments) / 1e6
    assert total == pytest.approx(8.0 - loss["to_us"] / 1e6, abs=0.05)
    for seg in segments:
        rm.ffprobe(summary.directory / seg["file"])
    (ended,) = _entries(summary.directory, "track_ended")
    assert ended["frames_lost"] == loss["frames"]
    assert ended["frames_written"] + ended["frames_lost"] == len(frames)
    assert inspect_recording(summary.directory).status is Status.OK


async def test_write_error_mid_segment_keeps_what_was_written(
    tmp_path: Path, signing_key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = {"on": False}
    real_write = SegmentFile.write

    def write(self: SegmentFile, *args: Any, **kw: Any) -> None:
        if fault["on"]:
            raise SegmentWriteError("cannot write: [Errno 28] No space left on device")
        real_write(self, *args, **kw)

    monkeypatch.setattr(SegmentFile, "write", write)
    alerts = Alerts()
    session = await _session(tmp_path / "rec", signing_key, alerts)
    assert session.clock is not None
    video = rm.encode_video("vp8", seconds=10.0, gop_seconds=1.0)
    frames = rm.as_frames(video, pid="p2", mono_start=session.clock.mono_start)
    source = rm.FrameSource(frames)
    source.limit = 38  # 2.5 s: two finished segments, a third one half written
    await session.add_track("p2", "video", "Witness", "witness", source)
    await wait_until(lambda: len(_entries(session.directory, "segment")) == 2, what="2 segments")
    await wait_until(lambda: source.yielded == 38, what="frames")
    await asyncio.sleep(0.2)
    fault["on"] = True
    source.release(60)  # 1.5 s more while the disk is full
    await wait_until(lambda: alerts.of(AlertKind.WRITE_FAILED), timeout=5, what="alert")
    await wait_until(lambda: source.yielded == 60, what="frames")
    await asyncio.sleep(0.2)
    fault["on"] = False
    source.release()
    await wait_until(lambda: source.exhausted and not session.tracks(), what="track done")
    summary = await session.stop()

    assert "No space left on device" in (alerts.of(AlertKind.WRITE_FAILED)[0].error or "")
    assert len(alerts.of(AlertKind.RECOVERED)) == 1
    segments = _entries(summary.directory, "segment")
    incomplete = [s for s in segments if not s["complete"]]
    assert len(incomplete) == 1 and "No space left" in incomplete[0]["error"]
    assert incomplete[0]["start_us"] == 2_000_000
    # What was written before the fault is kept, hashed and readable.
    rm.ffprobe(summary.directory / incomplete[0]["file"])
    (loss,) = _entries(summary.directory, "loss")
    assert loss["from_us"] >= 2_000_000 and loss["to_us"] >= 4_000_000
    after = [s for s in segments if s["start_us"] >= loss["to_us"]]
    assert after and all(s["starts_with_keyframe"] for s in after)
    report = inspect_recording(summary.directory)
    assert report.status is Status.OK and report.incomplete_segments == 1


async def test_manifest_write_failure_keeps_entries_until_it_works(
    tmp_path: Path, signing_key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = {"on": False}
    real = ManifestWriter._write_line

    def write_line(self: ManifestWriter, line: bytes) -> None:
        if fault["on"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, line)

    monkeypatch.setattr(ManifestWriter, "_write_line", write_line)
    alerts = Alerts()
    session = await _session(tmp_path / "rec", signing_key, alerts)
    assert session.clock is not None
    frames = rm.as_frames(rm.encode_audio("opus", seconds=6.0), pid="p3",
                          mono_start=session.clock.mono_start)  # fmt: skip
    source = rm.FrameSource(frames)
    source.limit = 60
    await session.add_track("p3", "audio", "Counsel", "counsel", source)
    await wait_until(lambda: source.yielded == 60, what="frames")
    await asyncio.sleep(0.2)
    fault["on"] = True
    source.release(200)  # segments finish while the manifest cannot be written
    await wait_until(lambda: alerts.of(AlertKind.MANIFEST_FAILED), timeout=5, what="alert")
    await wait_until(lambda: source.yielded == 200, what="frames")
    await asyncio.sleep(0.2)
    waiting = list(session.directory.glob("t001-audio-p3/*.part"))
    assert len(waiting) >= 2  # finished, hashed, not yet listed: still under .part names
    fault["on"] = False
    source.release()
    await wait_until(lambda: source.exhausted and not session.tracks(), what="track done")
    summary = await session.stop()

    assert summary.signed
    assert len(alerts.of(AlertKind.MANIFEST_FAILED)) == 1  # not one per entry
    (back,) = alerts.of(AlertKind.RECOVERED)
    assert "manifest can be written again" in back.message
    segments = _entries(summary.directory, "segment")
    assert len(segments) >= 6
    assert [s["index"] for s in segments] == list(range(1, len(segments) + 1))
    assert not list(summary.directory.rglob("*.part"))
    assert inspect_recording(summary.directory).status is Status.OK


async def test_slow_disk_never_blocks_the_event_loop_and_overflow_is_counted(
    tmp_path: Path, signing_key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = SegmentFile.write

    def slow_write(self: SegmentFile, *args: Any, **kw: Any) -> None:
        time.sleep(0.03)  # 30 ms per packet, on the recorder's thread
        real_write(self, *args, **kw)

    monkeypatch.setattr(SegmentFile, "write", slow_write)
    alerts = Alerts()
    options = RecordingOptions(segment_seconds=1.0, queue_frames=50)
    session = RecordingSession(
        tmp_path / "rec", "h-slow", signing_key=signing_key, on_alert=alerts, options=options
    )
    await session.start()
    assert session.clock is not None
    video = rm.encode_video("vp8", seconds=10.0, gop_seconds=1.0)
    source = rm.FrameSource(rm.as_frames(video, pid="p4", mono_start=session.clock.mono_start))

    lags: list[float] = []

    async def ticker() -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.005)
            lags.append(time.monotonic() - before - 0.005)

    tick = asyncio.create_task(ticker())
    await session.add_track("p4", "video", "Judge", "judge", source)
    await wait_until(lambda: source.exhausted and not session.tracks(), what="track done")
    tick.cancel()
    summary = await session.stop()

    # Writing on the loop would stall it for 20 frames x 30 ms per batch the source yields.
    assert max(lags) < 0.3, max(lags)
    dropped = alerts.of(AlertKind.FRAMES_DROPPED)
    assert dropped and dropped[0].lost_frames > 0  # the queue (50) overflowed
    (ended,) = _entries(summary.directory, "track_ended")
    assert ended["frames_lost"] > 0
    received = ended["frames_received"]
    assert received == len(video.packets)
    # Lost frames and those skipped until the next keyframe are all accounted for.
    assert ended["frames_written"] + ended["frames_lost"] == received
    report = inspect_recording(summary.directory)
    assert report.status is Status.OK
    for seg in _entries(summary.directory, "segment"):
        assert rm.ffmpeg_decodes(summary.directory / seg["file"]) == ""
