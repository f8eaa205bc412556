from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import numpy as np
import pytest
from transcription_fakes import SEG, FakeSTT, fail_with, pcm_frames, quiet, tone

from transcription.pipeline import PipelineSettings, TranscriptionPipeline
from transcription.segments import Caption, SegmentStatus, Speaker, TranscriptSegment
from transcription.streaming import StreamSettings
from transcription.stt import STTError
from transcription.testing import FrameSource, ManualClock
from transcription.vad import EnergyVAD

ALICE = Speaker("p-alice", "Alice", "party")
NO_INTERIM = PipelineSettings(stream=StreamSettings(segmenter=SEG, interim_interval_s=None))


class Recorder:
    def __init__(self) -> None:
        self.segments: list[TranscriptSegment] = []
        self.captions: list[Caption] = []
        self.fail_next = 0

    async def on_segment(self, seg: TranscriptSegment) -> int:
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("database is locked")
        self.segments.append(seg)
        return len(self.segments)

    async def on_caption(self, cap: Caption) -> None:
        self.captions.append(cap)


def pipeline(stt: FakeSTT, rec: Recorder, clock: ManualClock,
             settings: PipelineSettings = NO_INTERIM) -> TranscriptionPipeline:
    return TranscriptionPipeline("h-1", stt, clock, on_segment=rec.on_segment,
                                 on_caption=rec.on_caption, settings=settings, vad=EnergyVAD)


async def run_one(p: TranscriptionPipeline, frames: object, speaker: Speaker = ALICE) -> None:
    handle = p.add_participant(frames, speaker)  # type: ignore[arg-type]
    await handle.wait()
    await p.aclose()


async def test_segments_carry_speaker_and_hearing_clock_times() -> None:
    rec, clock = Recorder(), ManualClock(start=100.0)
    p = pipeline(FakeSTT(), rec, clock)
    audio = np.concatenate([quiet(1), tone(2), quiet(1), tone(1.5), quiet(1)])
    await run_one(p, FrameSource(pcm_frames(audio, start_pts=123_456)))
    assert [s.text.split()[:2] for s in rec.segments] == [["utterance", "1"], ["utterance", "2"]]
    first, second = rec.segments
    # The first frame arrived at 100.0, so the stream starts at 99.98.
    assert first.start == pytest.approx(99.98 + 0.8, abs=0.05)
    assert second.start == pytest.approx(99.98 + 3.8, abs=0.05)
    assert second.end == pytest.approx(99.98 + 5.7, abs=0.1)
    assert (first.participant_id, first.name, first.role) == ("p-alice", "Alice", "party")
    assert first.engine == "fake:1" and first.status is SegmentStatus.OK
    assert first.start_at == clock.origin + timedelta(seconds=first.start)
    finals = [c for c in rec.captions if c.final]
    assert [c.seq for c in finals] == [1, 2] and not any(c.late for c in finals)
    assert finals[0].to_json()["name"] == "Alice"


async def test_caption_latency_counts_from_the_end_of_speech() -> None:
    """The utterance runs on for the VAD's trailing pad; latency does not count it."""
    rec, clock = Recorder(), ManualClock(start=100.0)
    p = pipeline(FakeSTT(), rec, clock)
    audio = np.concatenate([quiet(1), tone(2), quiet(1.5)])
    await run_one(p, FrameSource(pcm_frames(audio)))  # the manual clock stays at 100.0
    (seg,) = rec.segments
    (final,) = [c for c in rec.captions if c.final]
    assert p.trailing_pad_s == SEG.pad_s > 0
    assert seg.end == pytest.approx(99.98 + 3.0 + SEG.pad_s, abs=0.1)  # the cue keeps the pad
    assert final.latency == pytest.approx(100.0 - (seg.end - SEG.pad_s), abs=1e-6)


async def test_timestamp_gaps_are_filled_or_reanchored() -> None:
    rec, clock = Recorder(), ManualClock()
    p = pipeline(FakeSTT(), rec, clock)
    a = pcm_frames(np.concatenate([quiet(0.5), tone(1.0), quiet(0.2)]))
    # 1 s without packets (filled with silence), then 30 s without (a new anchor).
    b = pcm_frames(np.concatenate([tone(1.0), quiet(1.0)]), start_pts=a[-1].pts + 960 + 48000)
    c = pcm_frames(np.concatenate([tone(1.0), quiet(1.0)]),
                   start_pts=b[-1].pts + 960 + 30 * 48000)
    await run_one(p, FrameSource(a + b + c))
    starts = [round(s.start, 1) for s in rec.segments]
    assert len(starts) == 3
    assert starts[0] == pytest.approx(0.3, abs=0.1)
    assert starts[1] == pytest.approx(1.7 + 1.0 - 0.2, abs=0.15)  # after the filled second
    assert starts[2] == pytest.approx(4.7 + 30.0, abs=0.15)  # after the 30 s pause (no pre-roll)


async def test_frames_without_timestamps_follow_the_clock() -> None:
    rec, clock = Recorder(), ManualClock(start=10.0)
    p = pipeline(FakeSTT(), rec, clock)
    first = pcm_frames(np.concatenate([quiet(0.5), tone(1.0), quiet(1.0)]), with_pts=False)
    later = pcm_frames(np.concatenate([tone(1.0), quiet(1.0)]), with_pts=False)

    class Jump(FrameSource):
        async def _run(self):  # type: ignore[no-untyped-def]
            for i, f in enumerate(first + later):
                if i == len(first):
                    clock.t = 60.0  # the publisher was silent (no frames) for a while
                await asyncio.sleep(0)
                yield f

    await run_one(p, Jump([]))
    assert rec.segments[0].start == pytest.approx(10.3, abs=0.1)
    assert rec.segments[1].start == pytest.approx(60.0 - 0.02, abs=0.1)


async def test_behind_captions_are_late_but_every_segment_is_kept() -> None:
    rec, clock = Recorder(), ManualClock()
    gate = threading.Event()

    def stuck(n: int, audio: object) -> None:
        gate.wait(10)  # the engine is busy: utterances pile up

    settings = PipelineSettings(
        late_after_s=4.0,
        stream=StreamSettings(segmenter=SEG, interim_interval_s=None, max_in_memory=2),
    )
    p = pipeline(FakeSTT(script=stuck), rec, clock, settings)
    parts = [quiet(0.5)]
    for _ in range(8):
        parts += [tone(0.6), quiet(0.7)]
    handle = p.add_participant(FrameSource(pcm_frames(np.concatenate(parts))), ALICE)
    for _ in range(500):
        if p.backlog == 8:
            break
        await asyncio.sleep(0.01)
    assert p.backlog == 8  # one in the engine, two in memory, five spooled to disk
    clock.t = 60.0  # a minute later the engine catches up
    gate.set()
    await handle.wait()
    await p.aclose()
    assert len(rec.segments) == 8  # none dropped
    assert all(s.late for s in rec.segments)
    assert [c.late for c in rec.captions if c.final] == [True] * 8
    assert p.stats.spilled == 5 and p.stats.late == 8 and p.stats.max_queue_depth == 7
    assert sorted(s.start for s in rec.segments) == [s.start for s in rec.segments]


async def test_failed_recognition_is_recorded_not_dropped() -> None:
    rec, clock = Recorder(), ManualClock()
    calls = {"n": 0}

    def second_fails(n: int, audio: object) -> None:
        calls["n"] = n
        if n == 2:
            fail_with(retryable=False)(n, audio)  # type: ignore[arg-type]

    p = pipeline(FakeSTT(script=second_fails), rec, clock)
    audio = np.concatenate([quiet(0.5), tone(1), quiet(1), tone(1), quiet(1), tone(1), quiet(1)])
    await run_one(p, FrameSource(pcm_frames(audio)))
    assert [s.status for s in rec.segments] == [SegmentStatus.OK, SegmentStatus.FAILED,
                                                SegmentStatus.OK]
    failed = rec.segments[1]
    assert failed.text == "" and "scripted failure" in failed.detail and failed.end > failed.start
    assert p.stats.failed == 1


async def test_frames_lost_by_the_tap_are_recorded_as_a_gap() -> None:
    rec, clock = Recorder(), ManualClock()
    p = pipeline(FakeSTT(), rec, clock)
    frames = pcm_frames(np.concatenate([quiet(0.5), tone(1), quiet(1)]))

    class Lossy(FrameSource):
        async def _run(self):  # type: ignore[no-untyped-def]
            for i, f in enumerate(self._frames):
                if i == 40:
                    self.dropped += 7
                await asyncio.sleep(0)
                yield f

    source = Lossy(frames)
    await run_one(p, source)
    gaps = [s for s in rec.segments if s.status is SegmentStatus.GAP]
    assert len(gaps) == 1 and "7 audio frame(s) lost" in gaps[0].detail
    assert gaps[0].end - gaps[0].start == pytest.approx(0.14)
    assert p.stats.frames_dropped == 7 and source.closed


async def test_a_failing_sink_is_retried_then_the_segment_kept() -> None:
    rec, clock = Recorder(), ManualClock()
    settings = PipelineSettings(sink_retries=2, sink_retry_backoff_s=0.001,
                                stream=StreamSettings(segmenter=SEG, interim_interval_s=None))
    p = pipeline(FakeSTT(), rec, clock, settings)
    rec.fail_next = 2  # two failures, the third attempt succeeds
    await run_one(p, FrameSource(pcm_frames(np.concatenate([quiet(0.5), tone(1), quiet(1)]))))
    assert len(rec.segments) == 1 and not p.unsaved

    rec2 = Recorder()
    p2 = pipeline(FakeSTT(), rec2, clock, settings)
    rec2.fail_next = 99
    await run_one(p2, FrameSource(pcm_frames(np.concatenate([quiet(0.5), tone(1), quiet(1)]))))
    assert len(p2.unsaved) == 1 and p2.stats.sink_errors == 1
    assert [c.seq for c in rec2.captions if c.final] == [None]  # still captioned


async def test_interim_captions_while_speaking() -> None:
    rec, clock = Recorder(), ManualClock()
    settings = PipelineSettings(
        stream=StreamSettings(segmenter=SEG, interim_interval_s=0.2, min_interim_s=0.3)
    )
    p = pipeline(FakeSTT(), rec, clock, settings)
    audio = np.concatenate([quiet(0.3), tone(2.0), quiet(0.8)])
    await run_one(p, FrameSource(pcm_frames(audio), realtime=True, speed=2.0))
    interim = [c for c in rec.captions if not c.final]
    final = [c for c in rec.captions if c.final]
    assert interim and len(final) == 1
    assert all(c.segment_id == final[0].segment_id for c in interim)
    assert rec.captions[-1].final  # no interim after the final


async def test_removing_a_participant_finishes_their_last_words() -> None:
    rec, clock = Recorder(), ManualClock()
    p = pipeline(FakeSTT(), rec, clock)
    source = FrameSource(pcm_frames(np.concatenate([quiet(0.3), tone(10.0)])), realtime=True,
                         speed=4.0)
    p.add_participant(source, ALICE)
    assert p.participants() == ["p-alice"]
    await asyncio.sleep(0.5)  # ~2 s of audio in, mid-sentence
    await p.remove_participant("p-alice")
    assert len(rec.segments) == 1 and rec.segments[0].end - rec.segments[0].start > 1.0
    assert source.closed and p.participants() == []
    await p.aclose()


async def test_two_participants_are_attributed() -> None:
    rec, clock = Recorder(), ManualClock()
    p = pipeline(FakeSTT(), rec, clock)
    bob = Speaker("p-bob", "Bob 张三", "witness")
    a = np.concatenate([quiet(0.5), tone(1.0), quiet(3.0), tone(1.0), quiet(1.0)])
    b = np.concatenate([quiet(2.0), tone(1.5), quiet(3.0)])
    ha = p.add_participant(FrameSource(pcm_frames(a)), ALICE)
    hb = p.add_participant(FrameSource(pcm_frames(b)), bob)
    await ha.wait()
    await hb.wait()
    await p.aclose()
    in_time = sorted(rec.segments, key=lambda s: s.start)
    order = [(s.participant_id, round(s.start)) for s in in_time]
    assert order == [("p-alice", 0), ("p-bob", 2), ("p-alice", 4)]


async def test_the_event_loop_keeps_running_while_the_engine_works() -> None:
    rec, clock = Recorder(), ManualClock()
    p = pipeline(FakeSTT(delay=0.8), rec, clock)
    audio = np.concatenate([quiet(0.5), tone(1), quiet(1), tone(1), quiet(1)])
    handle = p.add_participant(FrameSource(pcm_frames(audio)), ALICE)
    worst = 0.0
    while not handle.done:
        t = time.perf_counter()
        await asyncio.sleep(0.01)
        worst = max(worst, time.perf_counter() - t - 0.01)
    await p.aclose()
    assert len(rec.segments) == 2
    # Blocking would show as a 0.8 s stall; the slack is for a loaded 2-core machine.
    assert worst < 0.4


async def test_closed_pipeline_refuses_participants() -> None:
    p = pipeline(FakeSTT(), Recorder(), ManualClock())
    await p.aclose()
    with pytest.raises(RuntimeError):
        p.add_participant(FrameSource([]), ALICE)
    with pytest.raises(STTError):
        await FakeSTT(script=fail_with(False)).recognize(tone(0.3))
