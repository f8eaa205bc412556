"""Real Mandarin speech with the default engine for a Chinese hearing: multilingual Whisper
base, joined from its two PyPI packages into the data dir, in a child process, language
"zh" and the hearing's prompt (court vocabulary, names).

- recordings from public corpora (AISHELL-1/-2 read speech; WenetSpeech spontaneous), not
  TTS, with their published reference text (``../shared/testdata/mandarin``; provenance and
  licences in its PROVENANCE.md): Simplified characters and Chinese punctuation always;
  character error rate on the read set within the bound measured for the pass;
- through the pipeline (Opus-decoded frames, VAD cuts): one segment per utterance, each in
  Simplified Chinese, CER close to batch recognition by the same pass;
- English still goes to tiny.en through the same engine (the router).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

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
