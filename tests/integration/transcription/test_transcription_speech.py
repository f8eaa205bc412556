"""Real recognition with the default engine (faster-whisper, the bundled tiny.en model):
speech goes in as the decoded frames a tap yields (Opus-encoded and decoded, 48 kHz stereo),
through the pipeline, into the hash-chained transcript and its exports.

- synthetic speech (Debian flite, four voices) from four participants speaking in turn:
  every segment attributed to its speaker, word error rate <= 0.15 per voice. The voices
  are slt, awb, rms (16 kHz) and kal16: the 8 kHz ``kal`` diphone voice scores 0.08-0.16
  with tiny.en depending on where the VAD cuts, too close to the bound to assert; the
  benchmark (bench/transcription) measures it;
- real human speech (Debian pocketsphinx-testdata): WER <= 0.10;
- the event loop keeps running while the engine works (real-time input);
- pocketsphinx, the light engine, recognises synthetic speech.

The sample hearing's transcript is written to test-artifacts/transcript-sample.{pdf,vtt,json}.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from hearing_server.core.actors import Actor
from hearing_server.core.hearing import Hearing, HearingAction, HearingKind
from hearing_server.core.participant import Participant, Role
from hearing_server.service.transcripts import TranscriptService
from hearing_server.store.sqlite import SQLiteStore
from transcription import (
    STT,
    Speaker,
    TranscriptionPipeline,
    TranscriptionSettings,
    TranscriptSegment,
    create_engine,
)
from transcription.engines import PocketSphinxSTT
from transcription.stt import SAMPLE_RATE
from transcription.testing import (
    COURT_SENTENCES,
    POCKETSPHINX_TESTDATA,
    FrameSource,
    ManualClock,
    have_flite,
    load_utterance,
    opus_frames,
    real_speech_set,
    silence,
    speech_frames,
    synthesize,
    to_16k,
)
from transcription.wer import corpus_wer, wer

pytestmark = pytest.mark.skipif(not have_flite(), reason="Debian flite not installed")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
ORIGIN = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)

# (participant id, display name, role, flite voice)
SPEAKERS = [
    ("p-judge", "Judge Li 李法官", Role.JUDGE, "slt"),
    ("p-plaintiff", "Zhang San 张三", Role.PARTY, "kal16"),
    ("p-counsel", "Counsel Chen 陈律师", Role.COUNSEL, "awb"),
    ("p-witness", "Wang Wu 王五", Role.WITNESS, "rms"),
]


def pdftotext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout


@pytest.fixture(scope="module")
def engine() -> Iterator[STT]:
    """One loaded default engine for the module, as the app shares one across hearings."""
    stt = create_engine(TranscriptionSettings())
    yield stt
    asyncio.run(stt.aclose())


async def test_four_participants_in_turn_attributed_and_recognised(
    engine: STT, tmp_path: Path
) -> None:
    # Round k: each speaker in turn; speaker i says sentence k + 2i, so every voice reads
    # all eight sentences (87 words) and no two speak the same sentence in a row.
    said: dict[str, list[str]] = {pid: [] for pid, *_ in SPEAKERS}
    tracks = {pid: [silence(0.5)] for pid, *_ in SPEAKERS}
    turns: list[tuple[str, float, float]] = []  # (pid, start, end) in stream seconds
    t = 0.5
    for k in range(len(COURT_SENTENCES)):
        for i, (pid, _, _, voice) in enumerate(SPEAKERS):
            text = COURT_SENTENCES[(2 * i + k) % len(COURT_SENTENCES)]
            audio = to_16k(*synthesize(text, voice))
            dur = audio.size / SAMPLE_RATE
            for other, chunks in tracks.items():  # everyone's microphone keeps sending
                chunks.append(audio if other == pid else silence(dur))
                chunks.append(silence(0.8))
            said[pid].append(text)
            turns.append((pid, t, t + dur))
            t += dur + 0.8

    store = SQLiteStore(tmp_path / "hearing.sqlite3")
    await store.open()
    hearing = Hearing(
        id="h-sample", kind=HearingKind.HEARING,
        case_number="\uff082026\uff09京0491民初1234号", court="北京互联网法院",
        title="买卖合同纠纷 Sale of goods dispute", scheduled_start=ORIGIN,
        scheduled_end=ORIGIN + timedelta(hours=1),
    )
    await store.create_hearing(hearing)
    for pid, name, role, _ in SPEAKERS:
        await store.add_participant(Participant(pid, hearing.id, role, name))
    clerk_name = "Clerk Zhao 赵书记员"
    await store.add_participant(Participant("p-clerk", hearing.id, Role.CLERK, clerk_name))
    service = TranscriptService(store)
    segments: list[TranscriptSegment] = []

    async def on_segment(seg: TranscriptSegment) -> int:
        segments.append(seg)
        return await service.record_segment(seg)

    clock = ManualClock(ORIGIN)
    pipeline = TranscriptionPipeline(hearing.id, engine, clock, on_segment=on_segment,
                                     settings=TranscriptionSettings().pipeline_settings())
    handles = [
        pipeline.add_participant(FrameSource(opus_frames(np.concatenate(tracks[pid]),
                                                         SAMPLE_RATE)),
                                 Speaker(pid, name, role.value))
        for pid, name, role, _ in SPEAKERS
    ]
    lags: list[float] = []
    started = time.perf_counter()
    while not all(h.done for h in handles):
        t0 = time.perf_counter()
        await asyncio.sleep(0.02)
        lags.append(time.perf_counter() - t0 - 0.02)
    elapsed = time.perf_counter() - started
    await pipeline.aclose()

    # Attribution: one segment per turn, in order, each on its speaker, at the right time.
    ordered = sorted(segments, key=lambda s: s.start)
    assert [s.participant_id for s in ordered] == [pid for pid, _, _ in turns]
    for seg, (_, start, end) in zip(ordered, turns, strict=True):
        assert seg.start == pytest.approx(start - 0.02, abs=0.4)
        assert seg.end == pytest.approx(end - 0.02, abs=0.8)
    # Recognition, per voice.
    rates = {}
    for pid, _, _, voice in SPEAKERS:
        mine = " ".join(s.text for s in ordered if s.participant_id == pid)
        rates[voice] = wer(" ".join(said[pid]), mine).rate
    print("WER per voice:", rates, f"{elapsed:.1f} s for {t:.1f} s of audio")
    for seg, (pid, _, _) in zip(ordered, turns, strict=True):
        k = sum(1 for s in ordered[: ordered.index(seg)] if s.participant_id == pid)
        if wer(said[pid][k], seg.text).errors:
            print(f"  {pid}: {seg.text!r} for {said[pid][k]!r}")
    assert all(r <= 0.15 for r in rates.values()), rates
    # Frames went in ~100x faster than real time here, so the VAD thread competed hard for
    # the GIL; the loop's lag under real-time input is asserted in the test below.
    print(f"event-loop lag max {max(lags):.3f} s (input ~100x real time)")

    # The record: intact chain, exports for a person to look at.
    h = hearing
    for action in (HearingAction.OPEN, HearingAction.START, HearingAction.CLOSE):
        h = h.apply(action, ORIGIN + timedelta(minutes=2) if action is HearingAction.CLOSE
                    else ORIGIN)
    await store.update_hearing(replace(h, actual_start=ORIGIN))
    clerk = Actor("p-clerk", Role.CLERK, hearing.id)
    judge = Actor("p-judge", Role.JUDGE, hearing.id)
    first_kal = next(s for s in ordered if s.participant_id == "p-plaintiff")
    seq = next(i for i, s in enumerate(segments, 1) if s is first_kal)
    await service.correct_segment(clerk, hearing.id, seq, said["p-plaintiff"][0],
                                  reason="checked against the recording")
    final = await service.finalise(judge, hearing.id)
    assert final.intact and len(final.lines) == len(turns) == 32
    ARTIFACTS.mkdir(exist_ok=True)
    for fmt in ("pdf", "vtt", "json"):
        out = await service.export(judge, hearing.id, fmt)
        (ARTIFACTS / f"transcript-sample.{fmt}").write_bytes(out.content)
    if shutil.which("pdftotext"):
        text = pdftotext(ARTIFACTS / "transcript-sample.pdf")
        flat = " ".join(text.split())
        for needle in ("北京互联网法院", "Judge Li 李法官", "Wang Wu 王五", "FINAL",
                       "Clerk Zhao 赵书记员"):
            assert needle in flat
        assert said["p-plaintiff"][0].split()[-1] in flat.lower()
    await store.close()


async def test_the_event_loop_keeps_running_while_recognising(engine: STT) -> None:
    """Two participants in turn, frames arriving in real time (as from WebRTC)."""
    pids = ("p-a", "p-b")
    tracks: dict[str, list[np.ndarray]] = {pid: [silence(0.3)] for pid in pids}
    for k, text in enumerate(COURT_SENTENCES[:4]):
        audio = to_16k(*synthesize(text, "slt" if k % 2 == 0 else "awb"))
        for i, pid in enumerate(pids):
            tracks[pid] += [audio if i == k % 2 else silence(audio.size / SAMPLE_RATE),
                            silence(0.7)]
    segments: list[TranscriptSegment] = []

    async def on_segment(seg: TranscriptSegment) -> int:
        segments.append(seg)
        return len(segments)

    await engine.prewarm()
    pipeline = TranscriptionPipeline("h-lag", engine, ManualClock(ORIGIN), on_segment=on_segment,
                                     settings=TranscriptionSettings().pipeline_settings())
    handles = [
        pipeline.add_participant(
            FrameSource(opus_frames(np.concatenate(tracks[pid]), SAMPLE_RATE), realtime=True),
            Speaker(pid, pid, "party"))
        for pid in pids
    ]
    lags: list[float] = []
    while not all(h.done for h in handles):
        t0 = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - t0 - 0.01)
    await pipeline.aclose()
    assert [s.participant_id for s in sorted(segments, key=lambda s: s.start)] == [
        "p-a", "p-b", "p-a", "p-b"]
    lags.sort()
    p99 = lags[int(len(lags) * 0.99)]
    print(f"event-loop lag with real-time input: max {lags[-1]:.3f} s, p99 {p99:.3f} s")
    # Recognition in the loop's process would stall it ~0.1-0.5 s per utterance.
    assert lags[-1] < 0.15 and p99 < 0.05


async def test_real_speech_word_error_rate(engine: STT) -> None:
    utterances = real_speech_set()
    assert len(utterances) == 11 and POCKETSPHINX_TESTDATA.is_dir()
    segments: list[TranscriptSegment] = []

    async def on_segment(seg: TranscriptSegment) -> int:
        segments.append(seg)
        return len(segments)

    pipeline = TranscriptionPipeline("h-real", engine, ManualClock(ORIGIN),
                                     on_segment=on_segment,
                                     settings=TranscriptionSettings().pipeline_settings())
    frames = speech_frames([load_utterance(u) for u in utterances], gap_s=1.2)
    handle = pipeline.add_participant(FrameSource(frames), Speaker("p-1", "Reader", "witness"))
    await handle.wait()
    await pipeline.aclose()
    hypothesis = " ".join(s.text for s in sorted(segments, key=lambda s: s.start))
    result = corpus_wer([(" ".join(u.reference for u in utterances), hypothesis)])
    print(f"real speech WER {result.rate:.3f} ({result.errors}/{result.words}): {hypothesis}")
    assert result.rate <= 0.10


async def test_pocketsphinx_engine_recognises_speech() -> None:
    stt = PocketSphinxSTT()
    texts = COURT_SENTENCES[1:3]
    segments: list[TranscriptSegment] = []

    async def on_segment(seg: TranscriptSegment) -> int:
        segments.append(seg)
        return len(segments)

    pipeline = TranscriptionPipeline("h-ps", stt, ManualClock(ORIGIN), on_segment=on_segment)
    frames = speech_frames([synthesize(t, "slt") for t in texts])
    handle = pipeline.add_participant(FrameSource(frames), Speaker("p-1", "A", "party"))
    await handle.wait()
    await pipeline.aclose()
    await stt.aclose()
    hyp = " ".join(s.text for s in sorted(segments, key=lambda s: s.start))
    assert {s.engine for s in segments} == {"pocketsphinx:en-us"}
    assert wer(" ".join(texts), hyp).rate <= 0.35, hyp
