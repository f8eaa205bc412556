"""Session control and the harder inputs: pause/resume, tracks coming and going, missing
keyframes, picture size changes, frames lost upstream, timestamp jumps, the composite with
AAC, codecs we cannot record."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import pytest
import recording_media as rm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from recording_harness import record_sources, wait_until

from recording import (
    AlertKind,
    RecordingAlert,
    RecordingOptions,
    RecordingSession,
    RecordingStateError,
    SessionState,
    Status,
    inspect_recording,
    verify_recording,
)

OPTS = RecordingOptions(segment_seconds=10.0, queue_frames=100_000)


def _entries(directory: Path, kind: str | None = None) -> list[dict[str, Any]]:
    lines = (directory / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    out = [json.loads(x) for x in lines]
    return [e["data"] for e in out if kind is None or e["type"] == kind]


def _check_files(directory: Path) -> None:
    for seg in _entries(directory, "segment"):
        probe = rm.ffprobe(directory / seg["file"])
        assert abs(float(probe["format"]["duration"]) - seg["duration_us"] / 1e6) <= 0.5
        assert rm.ffmpeg_decodes(directory / seg["file"]) == ""
    assert inspect_recording(directory).status is Status.OK


async def test_video_without_keyframes_keeps_one_growing_segment(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    requests: list[str] = []
    loop_thread = threading.get_ident()

    def request_keyframe() -> None:
        assert threading.get_ident() == loop_thread  # called on the event loop
        requests.append("pli")

    async def add(session: RecordingSession) -> list[rm.FrameSource]:
        assert session.clock is not None
        video = rm.encode_video("vp8", seconds=25.0, gop_seconds=1000.0)
        src = rm.FrameSource(rm.as_frames(video, pid="p", mono_start=session.clock.mono_start))
        await session.add_track("p", "video", "P", "party", src, request_keyframe=request_keyframe)
        return [src]

    rec = await record_sources(tmp_path, signing_key, add, options=OPTS)
    (seg,) = _entries(rec.directory, "segment")
    assert seg["duration_us"] == pytest.approx(25_000_000, abs=100_000)
    assert any("no keyframe" in note for note in seg["notes"])
    assert requests  # asked the publisher for one when the segment was due
    _check_files(rec.directory)


async def test_picture_size_change_starts_a_new_segment(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    async def add(session: RecordingSession) -> list[rm.FrameSource]:
        assert session.clock is not None
        video = rm.encode_video("vp8", seconds=8.0, gop_seconds=3.0, resize_at=4.0)
        src = rm.FrameSource(rm.as_frames(video, pid="p", mono_start=session.clock.mono_start))
        await session.add_track("p", "video", "P", "party", src)
        return [src]

    rec = await record_sources(tmp_path, signing_key, add, options=OPTS)
    first, second = _entries(rec.directory, "segment")
    assert first["duration_us"] == pytest.approx(4_000_000, abs=1000)
    assert any("picture size changed to 160x120" in n for n in first["notes"])
    assert (second["width"], second["height"]) == (160, 120)
    probe = rm.ffprobe(rec.directory / second["file"])
    assert (probe["streams"][0]["width"], probe["streams"][0]["height"]) == (160, 120)
    _check_files(rec.directory)


async def test_frames_lost_upstream_are_counted_and_skipped_to_the_next_keyframe(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    requests: list[int] = []

    async def add(session: RecordingSession) -> list[rm.FrameSource]:
        assert session.clock is not None
        video = rm.encode_video("vp8", seconds=10.0, gop_seconds=3.0)
        frames = rm.as_frames(video, pid="p", mono_start=session.clock.mono_start,
                              skip=range(20, 25))  # fmt: skip
        src = rm.FrameSource(frames, drops={20: 5})  # the tap says: 5 frames dropped
        await session.add_track("p", "video", "P", "party", src,
                                request_keyframe=lambda: requests.append(1))  # fmt: skip
        return [src]

    rec = await record_sources(tmp_path, signing_key, add, options=OPTS)
    (ended,) = _entries(rec.directory, "track_ended")
    # 5 lost before the recorder, 20 more undecodable until the keyframe at 3 s.
    assert ended["frames_lost"] == 25
    assert ended["frames_written"] == 150 - 25
    assert requests
    (seg,) = _entries(rec.directory, "segment")
    assert seg["lost_frames"] == 25
    assert any("5 frames dropped before the recorder" in n for n in seg["notes"])
    _check_files(rec.directory)  # decodes without a single error


async def test_pause_and_resume(tmp_path: Path, signing_key: Ed25519PrivateKey) -> None:
    session = RecordingSession(tmp_path, "h-pause", signing_key=signing_key, options=OPTS)
    await session.start()
    assert session.clock is not None
    ms = session.clock.mono_start
    video = rm.FrameSource(rm.as_frames(rm.encode_video("vp8", seconds=25.0, gop_seconds=3.0),
                                        pid="p", mono_start=ms))  # fmt: skip
    audio = rm.FrameSource(rm.as_frames(rm.encode_audio("opus", seconds=25.0), pid="p",
                                        mono_start=ms))  # fmt: skip
    video.limit, audio.limit = 75, 250  # 5 s
    await session.add_track("p", "video", "P", "party", video)
    await session.add_track("p", "audio", "P", "party", audio)
    await wait_until(lambda: video.yielded == 75 and audio.yielded == 250)
    await session.pause()
    assert session.state is SessionState.PAUSED
    # Pausing finishes the open segments at once.
    segs = _entries(session.directory, "segment")
    assert sorted(s["track"] for s in segs) == ["t001-video-p", "t002-audio-p"]
    assert all(s["start_us"] + s["duration_us"] <= 5_000_000 for s in segs)
    video.release(165)  # 5 s -> 11 s while paused
    audio.release(550)
    await wait_until(lambda: video.yielded == 165 and audio.yielded == 550)
    await session.resume()
    video.release()
    audio.release()
    await wait_until(lambda: video.exhausted and audio.exhausted and not session.tracks())
    summary = await session.stop()

    entries = _entries(summary.directory)
    (paused,) = _entries(summary.directory, "paused")
    (resumed,) = _entries(summary.directory, "resumed")
    assert paused["at_us"] < resumed["at_us"]
    segs = _entries(summary.directory, "segment")
    for s in segs:  # nothing recorded from the paused stretch (5 s to 11 s of media)
        assert s["start_us"] + s["duration_us"] <= 5_000_000 or s["start_us"] >= 11_000_000
    after = [s for s in segs if s["track"] == "t001-video-p" and s["start_us"] >= 11_000_000]
    assert after[0]["start_us"] == 12_000_000  # the first keyframe after resuming
    assert after[0]["starts_with_keyframe"]
    ended = {d["track"]: d for d in _entries(summary.directory, "track_ended")}
    assert ended["t001-video-p"]["frames_paused"] == 90
    assert ended["t002-audio-p"]["frames_paused"] == 300
    assert ended["t001-video-p"]["frames_lost"] == ended["t002-audio-p"]["frames_lost"] == 0
    assert entries[-1]["segments"] == len(segs)
    _check_files(summary.directory)


async def test_tracks_come_and_go(tmp_path: Path, signing_key: Ed25519PrivateKey) -> None:
    alerts: list[RecordingAlert] = []

    async def on_alert(alert: RecordingAlert) -> None:
        alerts.append(alert)

    session = RecordingSession(
        tmp_path, "h-tracks", signing_key=signing_key, on_alert=on_alert, options=OPTS
    )
    with pytest.raises(RecordingStateError):
        await session.add_track("a", "audio", "A", "party", rm.FrameSource([]))
    with pytest.raises(RecordingStateError):
        await session.pause()
    await session.start()
    with pytest.raises(RecordingStateError):
        await session.start()
    with pytest.raises(RecordingStateError):
        await session.resume()
    assert session.clock is not None
    ms = session.clock.mono_start
    opus = rm.encode_audio("opus", seconds=25.0)
    first = rm.FrameSource(rm.as_frames(opus, pid="a", mono_start=ms))
    first.limit = 100
    key1 = await session.add_track("a", "audio", "A", "party", first)
    await wait_until(lambda: first.yielded == 100)
    # "a" reconnects: the new track replaces the old one.
    second = rm.FrameSource(rm.as_frames(opus, pid="a", mono_start=ms, offset=3.0))
    second.limit = 100
    key2 = await session.add_track("a", "audio", "A", "party", second)
    assert key1 != key2 and first.closed
    await wait_until(lambda: second.yielded == 100)
    await session.pause()
    # Someone joins while the recording is paused: recorded from the resume on.
    third = rm.FrameSource(rm.as_frames(opus, pid="b", mono_start=ms, offset=5.0))
    third.limit = 50
    await session.add_track("b", "audio", "B", "witness", third)
    await wait_until(lambda: third.yielded == 50)
    await session.resume()
    third.release(200)
    await wait_until(lambda: third.yielded == 200)
    await session.remove_track("b")
    assert third.closed
    assert [t.key for t in session.tracks()] == [key2]
    # A codec we cannot record is reported, not silently ignored.
    bogus = rm.FrameSource(
        [dataclasses.replace(f, codec="video/AV1", kind="video") for f in rm.as_frames(
            rm.encode_video("vp8", seconds=1.0), pid="c", mono_start=ms)]
    )  # fmt: skip
    await session.add_track("c", "video", "C", "observer", bogus)
    await wait_until(lambda: bogus.exhausted and len(session.tracks()) == 1)
    summary = await session.stop()
    assert await session.stop() is summary  # idempotent
    with pytest.raises(RecordingStateError):
        await session.add_track("d", "audio", "D", "party", rm.FrameSource([]))

    ended = {d["track"]: d for d in _entries(summary.directory, "track_ended")}
    assert ended[key1]["reason"] == "replaced"
    assert ended["t003-audio-b"]["reason"] == "removed"
    assert ended["t003-audio-b"]["frames_paused"] == 50
    assert ended[key2]["reason"] == "recording stopped"
    assert ended["t004-video-c"]["frames_written"] == 0
    (failed,) = [a for a in alerts if a.kind is AlertKind.TRACK_FAILED]
    assert "unsupported video codec 'video/AV1'" in failed.message
    assert summary.tracks == 4
    assert verify_recording(summary.directory) == []


async def test_rtp_timestamp_jump_is_reanchored(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    async def add(session: RecordingSession) -> list[rm.FrameSource]:
        assert session.clock is not None
        frames = rm.as_frames(rm.encode_audio("opus", seconds=6.0), pid="p",
                              mono_start=session.clock.mono_start)  # fmt: skip
        # The sender restarts its RTP clock 3 s in (a jump back by 2**31 ticks).
        jumped = [
            dataclasses.replace(f, rtp_timestamp=f.rtp_timestamp - 2**31) if i >= 150 else f
            for i, f in enumerate(frames)
        ]
        src = rm.FrameSource(jumped)
        await session.add_track("p", "audio", "P", "party", src)
        return [src]

    rec = await record_sources(tmp_path, signing_key, add, options=OPTS)
    (ended,) = _entries(rec.directory, "track_ended")
    assert ended["discontinuities"] == 1 and ended["frames_lost"] == 0
    (seg,) = _entries(rec.directory, "segment")
    assert seg["duration_us"] == pytest.approx(6_000_000, abs=50_000)
    assert any("re-anchored" in n for n in seg["notes"])
    _check_files(rec.directory)


async def test_composite_with_aac_audio(tmp_path: Path, signing_key: Ed25519PrivateKey) -> None:
    async def add(session: RecordingSession) -> list[rm.FrameSource]:
        assert session.clock is not None
        ms = session.clock.mono_start
        video, audio = rm.paced(
            rm.FrameSource(rm.as_frames(rm.encode_video("h264", seconds=12.0, gop_seconds=2.0),
                                        pid="composite", mono_start=ms)),
            rm.FrameSource(rm.as_frames(rm.encode_audio("aac", seconds=12.0, channels=2),
                                        pid="composite", mono_start=ms)),
        )  # fmt: skip
        await session.add_composite(video, audio)
        return [video, audio]

    rec = await record_sources(tmp_path, signing_key, add, options=OPTS)
    segs = _entries(rec.directory, "segment")
    assert [s["start_us"] for s in segs] == [0, 10_000_000]
    for seg in segs:
        probe = rm.ffprobe(rec.directory / seg["file"])
        assert [s["codec_name"] for s in probe["streams"]] == ["h264", "aac"]
        assert probe["format"]["format_name"].startswith("mov,mp4")
    _check_files(rec.directory)


async def test_alert_handler_errors_do_not_stop_the_recording(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    calls: list[str] = []

    async def broken(alert: RecordingAlert) -> None:
        calls.append(alert.kind.value)
        raise RuntimeError("signaling is down")

    session = RecordingSession(tmp_path, "h-x", signing_key=signing_key, on_alert=broken)
    await session.start()
    frames = rm.as_frames(rm.encode_video("vp8", seconds=1.0), pid="c", mono_start=0.0)
    bogus = rm.FrameSource([dataclasses.replace(f, codec="video/AV1") for f in frames])
    await session.add_track("c", "video", "C", "observer", bogus)
    await wait_until(lambda: not session.tracks())
    await asyncio.sleep(0)
    summary = await session.stop()
    assert calls == ["track_failed"]
    assert summary.signed
    assert session.status()["state"] == "stopped"


@pytest.mark.parametrize(("audio_offset", "first_streams"), [(0.5, 2), (3.0, 1)])
async def test_composite_audio_that_starts_late(
    tmp_path: Path, signing_key: Ed25519PrivateKey, audio_offset: float, first_streams: int
) -> None:
    """The first composite segment waits up to a second for the audio; audio that comes
    later joins at the next keyframe."""

    async def add(session: RecordingSession) -> list[rm.FrameSource]:
        assert session.clock is not None
        ms = session.clock.mono_start
        video, audio = rm.paced(
            rm.FrameSource(rm.as_frames(rm.encode_video("h264", seconds=12.0, gop_seconds=2.0),
                                        pid="composite", mono_start=ms)),
            rm.FrameSource(rm.as_frames(rm.encode_audio("opus", seconds=8.0), pid="composite",
                                        mono_start=ms, offset=audio_offset)),
        )  # fmt: skip
        await session.add_composite(video, audio)
        return [video, audio]

    rec = await record_sources(tmp_path, signing_key, add, options=OPTS)
    segs = _entries(rec.directory, "segment")
    assert segs[0]["start_us"] == 0 and segs[0]["starts_with_keyframe"]
    assert len(segs[0]["streams"]) == first_streams
    probe = rm.ffprobe(rec.directory / segs[0]["file"])
    assert len(probe["streams"]) == first_streams
    if first_streams == 1:
        assert segs[0]["duration_us"] == 4_000_000  # cut at the keyframe after the audio came
        assert "cut early: the audio stream started" in segs[0]["notes"]
        assert len(segs[1]["streams"]) == 2
    (ended,) = _entries(rec.directory, "track_ended")
    assert ended["frames_lost"] == 0
    _check_files(rec.directory)


class _SlowToClose(rm.FrameSource):
    """A source whose close waits until the test lets it: the track's finishing takes as long
    as the test wants, whatever the machine's speed."""

    def __init__(self, frames: list[Any]) -> None:
        super().__init__(frames)
        self.may_close = asyncio.Event()

    async def close(self) -> None:
        await self.may_close.wait()
        super().close()


async def test_ending_a_track_returns_at_once_and_stop_waits_for_its_finish(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    """Someone leaves: their track takes no more frames at once, its last segment is finished
    later (the coordinator leaves that to the background), and stopping the recording waits
    for it and keeps its reason."""

    async def on_alert(alert: RecordingAlert) -> None:
        raise AssertionError(alert)

    session = RecordingSession(
        tmp_path, "h-leaving", signing_key=signing_key, on_alert=on_alert, options=OPTS
    )
    await session.start()
    assert session.clock is not None
    opus = rm.encode_audio("opus", seconds=10.0)
    leaving = _SlowToClose(rm.as_frames(opus, pid="a", mono_start=session.clock.mono_start))
    leaving.limit = 100
    staying = rm.FrameSource(rm.as_frames(opus, pid="b", mono_start=session.clock.mono_start))
    staying.limit = 100
    await session.add_track("a", "audio", "A", "party", leaving)
    await session.add_track("b", "audio", "B", "party", staying)
    await wait_until(lambda: leaving.yielded == 100 and staying.yielded == 100)

    (finishing,) = session.end_tracks("a")  # not awaited: it cannot finish before may_close
    leaving.release(200)  # frames that arrive after the end are not taken
    assert session.end_tracks("a") == [finishing]  # ending twice changes nothing
    await asyncio.sleep(0.2)
    assert not finishing.done() and leaving.yielded == 100
    # "a" comes back before the old track has finished: a new track, without waiting for it.
    back = rm.FrameSource(rm.as_frames(opus, pid="a", mono_start=session.clock.mono_start))
    back.limit = 50
    async with asyncio.timeout(5):
        key = await session.add_track("a", "audio", "A", "party", back)
    await wait_until(lambda: back.yielded == 50)

    stopping = asyncio.create_task(session.stop())
    await asyncio.sleep(0.2)
    assert not stopping.done()  # the recording is not signed while a track is unfinished
    leaving.may_close.set()
    summary = await stopping
    assert finishing.done()

    ended = {d["track"]: d for d in _entries(summary.directory, "track_ended")}
    assert ended["t001-audio-a"]["reason"] == "removed"
    assert ended["t001-audio-a"]["frames_written"] == 100
    assert ended[key]["reason"] == "recording stopped"
    assert summary.tracks == 3
    assert verify_recording(summary.directory) == []
