"""Real Mandarin speech with the default engine for a Chinese hearing: multilingual Whisper
base, joined from its two PyPI packages into the data dir, in a child process, language
"zh" and the hearing's prompt (court vocabulary, names).

- recordings from public corpora (AISHELL-1/-2 read speech; WenetSpeech spontaneous), not
  TTS, with their published reference text (``../shared/testdata/mandarin``; provenance and
  licences in its PROVENANCE.md): Simplified characters and Chinese punctuation always;
  character error rate on the read set within the bound measured for the pass;
- through the pipeline (Opus-decoded frames, VAD cuts): one segment per utterance, each in
  Simplified Chinese, CER close to batch recognition by the same pass;
- English still goes to tiny.en through the same engine (the router);
- the final pass (beam 5) replaces the live text in the transcript, keeps it in the chain,
  waits while the engine is wanted elsewhere, and leaves the clerk's corrections alone.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from hearing_server.core.actors import Actor
from hearing_server.core.hearing import Hearing, HearingKind
from hearing_server.core.participant import Participant, Role
from hearing_server.service.transcripts import TranscriptService
from hearing_server.store.sqlite import SQLiteStore
from transcription import (
    STT,
    Decoding,
    LanguageRouter,
    PipelineSettings,
    Speaker,
    TranscriptionPipeline,
    TranscriptionSettings,
    TranscriptSegment,
    create_engine,
)
from transcription.chinese import ChineseText, cer, court_prompt
from transcription.final_pass import FinalPass, PassLine, UtteranceStore
from transcription.stt import SAMPLE_RATE
from transcription.testing import (
    MANDARIN_TESTDATA,
    FrameSource,
    ManualClock,
    load_utterance,
    mandarin_speech_set,
    read_wav,
    real_speech_set,
    silence,
    speech_frames,
    to_16k,
)
from transcription.wer import WER, wer

SPEECH = mandarin_speech_set()
READ = [u for u in SPEECH if u.kind == "read"]
pytestmark = pytest.mark.skipif(
    not READ, reason=f"no Mandarin test recordings at {MANDARIN_TESTDATA} (see its PROVENANCE.md)"
)
PROMPT = court_prompt(["张三", "李四"], court="北京市朝阳区人民法院")
ASCII_PUNCTUATION = re.compile(r"[,?!:;]")
# Measured on this set (docs/performance.md, "Mandarin"): read speech 4 errors in 29
# characters with beam 1 (the live pass) and 3-4 with beam 5 (the final pass; int8 results
# vary by a character between runs). The bound allows one more than the worst measured.
MAX_READ_ERRORS = {1: 5, 5: 5}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[STT]:
    """The server's engine for a data dir: base for Mandarin, tiny.en for English."""
    stt = create_engine(TranscriptionSettings(data_dir=tmp_path_factory.mktemp("data")))
    yield stt
    asyncio.run(stt.aclose())


def audio_of(path: Path) -> np.ndarray:
    return np.concatenate([silence(0.3), to_16k(*read_wav(path)), silence(0.3)])


def written_as_a_court_writes(text: str, conv: ChineseText) -> None:
    assert re.search(r"[\u4e00-\u9fff]", text), text
    assert conv.simplified(text) == text, f"Traditional characters in {text!r}"
    assert not ASCII_PUNCTUATION.search(text), f"ASCII punctuation in {text!r}"
    assert " " not in text, text


@pytest.mark.parametrize("beam", [1, 5])
async def test_read_mandarin_comes_out_in_simplified_chinese(engine: STT, beam: int) -> None:
    assert isinstance(engine, LanguageRouter)
    assert engine.engine_for("zh").name == "faster-whisper:whisper-base"
    conv = ChineseText()
    total = WER(0, 0)
    for u in SPEECH:
        event = await engine.recognize(audio_of(u.path), language="zh",
                                       decoding=Decoding(prompt=PROMPT, beam_size=beam))
        print(f"beam {beam} {u.name}: {event.text!r} for {u.reference!r}")
        written_as_a_court_writes(event.text, conv)
        assert event.alternatives[0].language == "zh"
        if u.kind == "read":
            total = total + cer(u.reference, event.text, conv)
    print(f"beam {beam}: read CER {total.rate:.3f} ({total.errors}/{total.words})")
    assert total.errors <= MAX_READ_ERRORS[beam], total


async def test_silence_and_fragments_do_not_echo_the_prompt(engine: STT) -> None:
    """Whisper base echoes its prompt on silence and on a fraction of a second of speech
    (the names, "审判长" over and over); the guarded engine drops that instead of captioning
    it, within a bounded number of tokens."""
    start = to_16k(*read_wav(READ[0].path))[: int(0.8 * SAMPLE_RATE)]
    for audio in (silence(1.5), start):
        event = await engine.recognize(audio, language="zh", decoding=Decoding(prompt=PROMPT))
        print(f"{audio.size / SAMPLE_RATE:.1f} s: {event.text!r} in {event.processing_s:.1f} s")
        assert "张三" not in event.text and "李四" not in event.text, event.text
        assert event.text.count("审判长") <= 1, event.text


async def test_english_still_goes_to_tiny_en(engine: STT) -> None:
    assert isinstance(engine, LanguageRouter)
    assert engine.engine_for("en").name == "faster-whisper:whisper-tiny.en"
    utterances = real_speech_set()[:5]
    if not utterances:
        pytest.skip("Debian pocketsphinx-testdata not installed")
    total = WER(0, 0)
    for u in utterances:
        event = await engine.recognize(to_16k(*load_utterance(u)), language="en")
        total = total + wer(u.reference, event.text)
    assert total.rate <= 0.10, total


async def test_mandarin_through_the_pipeline(engine: STT) -> None:
    segments: list[TranscriptSegment] = []

    async def on_segment(seg: TranscriptSegment) -> int:
        segments.append(seg)
        return len(segments)

    pipeline = TranscriptionPipeline(
        "h-zh", engine, ManualClock(), on_segment=on_segment,
        settings=PipelineSettings(language="zh", decoding=Decoding(prompt=PROMPT)),
    )
    frames = speech_frames([read_wav(u.path) for u in READ], gap_s=1.2)
    handle = pipeline.add_participant(FrameSource(frames), Speaker("p-1", "张三", "party"))
    await handle.wait()
    await pipeline.aclose()
    ordered = sorted(segments, key=lambda s: s.start)
    conv = ChineseText()
    assert len(ordered) == len(READ), [s.text for s in ordered]
    for seg in ordered:
        written_as_a_court_writes(seg.text, conv)
        assert seg.language == "zh" and seg.participant_id == "p-1"
    score = cer("".join(u.reference for u in READ), "".join(s.text for s in ordered), conv)
    print(f"pipeline read CER {score.rate:.3f} ({score.errors}/{score.words})")
    assert score.errors <= MAX_READ_ERRORS[1] + 1, score  # the VAD's cuts may cost a character
    assert SAMPLE_RATE == 16000


async def test_the_final_pass_replaces_the_live_text_and_keeps_it_in_the_chain(
    engine: STT, tmp_path: Path
) -> None:
    """Live (beam 1) through the pipeline into a real transcript, the audio kept; then the
    final pass (beam 5, the preceding text as context) once the engine is idle: the
    transcript and its exports read the final text, the chain still holds the live text, the
    clerk's correction wins, and the kept audio is deleted."""
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    try:
        await final_pass_of_a_hearing(engine, store, tmp_path)
    finally:
        await store.close()  # its thread would keep the interpreter alive


async def final_pass_of_a_hearing(engine: STT, store: SQLiteStore, tmp_path: Path) -> None:
    t0 = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)
    hearing = Hearing(id="h-zh", kind=HearingKind.HEARING, case_number="（2026）京0105民初1号",
                      court="北京市朝阳区人民法院", title="买卖合同纠纷", scheduled_start=t0,
                      scheduled_end=t0 + timedelta(hours=1)).with_language("zh-CN")
    await store.create_hearing(hearing)
    await store.add_participant(Participant("p-1", "h-zh", Role.PARTY, "张三"))
    await store.add_participant(Participant("p-clerk", "h-zh", Role.CLERK, "赵书记员"))
    service = TranscriptService(store)
    utterances = UtteranceStore(tmp_path / "utterances")

    async def on_audio(seq: int, samples: np.ndarray) -> None:
        await utterances.put("h-zh", seq, samples)

    pipeline = TranscriptionPipeline(
        "h-zh", engine, ManualClock(t0), on_segment=service.record_segment, on_audio=on_audio,
        settings=PipelineSettings(language="zh", decoding=Decoding(prompt=PROMPT)),
    )
    frames = speech_frames([read_wav(u.path) for u in READ], gap_s=1.2)
    handle = pipeline.add_participant(FrameSource(frames), Speaker("p-1", "张三", "party"))
    await handle.wait()
    await pipeline.aclose()
    live = await service.current("h-zh")
    assert len(live.lines) == len(READ)
    assert utterances.sequences("h-zh") == [ln.seq for ln in live.lines]
    clerk = Actor("p-clerk", Role.CLERK, "h-zh")
    corrected = live.lines[-1]  # the clerk corrects one line before the pass: it stays
    await service.correct_segment(clerk, "h-zh", corrected.seq, READ[-1].reference)

    idle = False
    final_pass = FinalPass(engine, utterances, is_idle=lambda: idle, idle_poll_s=0.05)
    revised: list[int] = []

    async def revise(seq: int, text: str, engine_name: str) -> None:
        revised.append(seq)
        assert await service.revise_segment("h-zh", seq, text, engine_name)

    lines = [PassLine(ln.seq, ln.language, ln.text) for ln in live.lines
             if ln.seq != corrected.seq]
    task = asyncio.create_task(final_pass.run("h-zh", lines, prompt=PROMPT, revise=revise))
    await asyncio.sleep(0.5)
    assert not task.done() and engine.pending_requests == 0  # waits while a hearing runs
    idle = True
    stats = await asyncio.wait_for(task, 120)
    assert stats.failed == 0 and stats.revised + stats.unchanged == len(lines)
    assert utterances.sequences("h-zh") == []  # the kept audio is gone

    after = await service.current("h-zh")
    assert after.intact
    conv = ChineseText()
    for ln in after.lines:
        before = live.line(ln.seq)
        assert before is not None and ln.original_text == before.text  # live text kept
        if ln.seq == corrected.seq:
            assert ln.text == READ[-1].reference and ln.revised_text is None
        elif ln.seq in revised:
            assert ln.text == ln.revised_text and ln.revised_by.endswith("whisper-base")
        if ln.seq != corrected.seq:
            written_as_a_court_writes(ln.text, conv)
    final_cer = cer("".join(u.reference for u in READ), "".join(ln.text for ln in after.lines),
                    conv)
    live_cer = cer("".join(u.reference for u in READ), "".join(ln.text for ln in live.lines),
                   conv)
    print(f"live CER {live_cer.rate:.3f}, after the final pass {final_cer.rate:.3f}, "
          f"revised {stats.revised} of {len(lines)}, RTF {stats.processing_s / stats.audio_s:.2f}")
    assert final_cer.errors <= live_cer.errors
    doc = json.loads((await service.export(clerk, "h-zh", "json")).content)
    assert [s["text"] for s in doc["segments"]] == [ln.text for ln in after.lines]
    assert [s["original_text"] for s in doc["segments"]] == [ln.original_text
                                                             for ln in after.lines]
