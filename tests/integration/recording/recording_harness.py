"""Running a recording session over encoded test media (see recording_media)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import recording_media as rm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recording import RecordingAlert, RecordingOptions, RecordingSession, RecordingSummary
from support.waiting import wait_until


@dataclass
class Recorded:
    """A recording made by :func:`record_sources` and what happened while making it."""

    summary: RecordingSummary
    alerts: list[RecordingAlert] = field(default_factory=list)

    @property
    def directory(self) -> Path:
        return self.summary.directory


async def record_sources(
    root: Path,
    key: Ed25519PrivateKey,
    add: Callable[[RecordingSession], Awaitable[list[rm.FrameSource]]],
    *,
    options: RecordingOptions | None = None,
    hearing_id: str = "hearing1",
) -> Recorded:
    """Start a session, let ``add`` add tracks, wait for every source to be consumed and
    every recorder to finish its track, stop."""
    alerts: list[RecordingAlert] = []

    async def on_alert(alert: RecordingAlert) -> None:
        alerts.append(alert)

    session = RecordingSession(
        root,
        hearing_id,
        signing_key=key,
        on_alert=on_alert,
        options=options or RecordingOptions(queue_frames=100_000),
        metadata={"case_number": "(2026)京0105民初12345号", "visibility": "public"},
    )
    await session.start()
    sources = await add(session)
    await wait_until(lambda: all(s.exhausted for s in sources), what="sources consumed")
    await wait_until(lambda: not session.tracks(), what="tracks finished")
    summary = await session.stop()
    return Recorded(summary, alerts)


async def add_standard_tracks(session: RecordingSession) -> list[rm.FrameSource]:
    """25 s each: the judge's VP8 video and Opus audio, the party's H.264 video and the
    composite (H.264 + stereo Opus), each starting at its own offset on the hearing clock."""
    assert session.clock is not None
    ms = session.clock.mono_start

    def source(track: rm.EncodedTrack, pid: str, offset: float, rtp: int) -> rm.FrameSource:
        frames = rm.as_frames(track, pid=pid, mono_start=ms, offset=offset, rtp_base=rtp)
        return rm.FrameSource(frames)

    judge_v = source(rm.encode_video("vp8"), "judge", 0.5, 3_000_000_000)
    judge_a = source(rm.encode_audio("opus"), "judge", 0.4, 123_456)
    party_v = source(rm.encode_video("h264"), "party", 1.25, 7)
    comp_v, comp_a = rm.paced(
        source(rm.encode_video("h264", gop_seconds=2.0), "composite", 0.2, 0),
        source(rm.encode_audio("opus", channels=2, frequency=660.0), "composite", 0.2, 0),
    )
    await session.add_track("judge", "video", "王法官", "judge", judge_v)
    await session.add_track("judge", "audio", "王法官", "judge", judge_a)
    await session.add_track("party", "video", "张三", "party", party_v)
    await session.add_composite(comp_v, comp_a)
    return [judge_v, judge_a, party_v, comp_v, comp_a]
