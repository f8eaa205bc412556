from __future__ import annotations

import itertools

import numpy as np
import pytest
from transcription_fakes import SEG, quiet, tone

from transcription.stt import SAMPLE_RATE
from transcription.testing import COURT_SENTENCES, have_flite, synthesize
from transcription.vad import (
    WINDOW,
    EnergyVAD,
    Segmenter,
    SegmenterSettings,
    SileroVAD,
    SpeechStarted,
    Utterance,
    VADUnavailable,
)


def run(seg: Segmenter, audio: np.ndarray, chunk: int = 320) -> list[object]:
    events: list[object] = []
    for i in range(0, audio.size, chunk):
        events += seg.feed(audio[i : i + chunk])
    return events + seg.flush()


def utterances(events: list[object]) -> list[Utterance]:
    return [e for e in events if isinstance(e, Utterance)]


def test_segments_bursts_with_padding_and_ignores_short_blips() -> None:
    audio = np.concatenate([quiet(1), tone(2), quiet(1.5), tone(0.1), quiet(1), tone(3), quiet(1)])
    events = run(Segmenter(EnergyVAD(), SEG), audio)
    utts = utterances(events)
    assert len(utts) == 2, events
    first, second = utts
    assert first.start == pytest.approx(0.8, abs=0.1)  # 1.0 s minus the 0.2 s pad
    assert first.end == pytest.approx(3.2, abs=0.1)
    assert second.start == pytest.approx(5.4, abs=0.1)
    assert second.end == pytest.approx(8.8, abs=0.1)
    # Each utterance's audio is exactly the stream's samples between its times.
    s = first.start_sample
    assert np.array_equal(first.samples, audio[s : s + first.samples.size])
    assert [e.segment_id for e in utts] == [1, 3]  # the blip was numbered, then discarded
    assert isinstance(events[0], SpeechStarted)


def test_speech_at_the_end_is_flushed() -> None:
    events = run(Segmenter(EnergyVAD(), SEG), np.concatenate([quiet(1), tone(1.5)]))
    (utt,) = utterances(events)
    assert utt.end == pytest.approx(2.5, abs=0.05)


def test_long_speech_is_cut_and_nothing_is_lost() -> None:
    settings = SegmenterSettings(max_speech_s=4.0, pad_s=0.2)
    audio = np.concatenate([quiet(0.5), tone(11), quiet(1)])
    utts = utterances(run(Segmenter(EnergyVAD(), settings), audio))
    assert len(utts) >= 3
    assert all(u.duration <= 4.0 + WINDOW / SAMPLE_RATE for u in utts)
    for a, b in itertools.pairwise(utts):
        assert b.start_sample == a.start_sample + a.samples.size  # contiguous: no gap
    assert utts[0].start <= 0.5 and utts[-1].end >= 11.5


def test_chunk_size_does_not_change_the_result() -> None:
    audio = np.concatenate([quiet(0.7), tone(1.2), quiet(1.0), tone(0.9), quiet(0.8)])
    def cut(chunk: int) -> list[tuple[int, int]]:
        events = run(Segmenter(EnergyVAD(), SEG), audio, chunk)
        return [(u.start_sample, u.samples.size) for u in utterances(events)]

    a, b = cut(97), cut(4800)
    assert a == b and len(a) == 2


def test_current_utterance_for_interim_results() -> None:
    seg = Segmenter(EnergyVAD(), SEG)
    seg.feed(np.concatenate([quiet(0.5), tone(1.0)]))
    cur = seg.current()
    assert seg.speaking and cur is not None
    assert cur.duration == pytest.approx(1.2, abs=0.1)
    assert not seg.pausing
    seg.feed(quiet(0.2))  # shorter than min_silence_s: still speaking, but maybe ending
    assert seg.speaking and seg.pausing
    seg.feed(tone(0.2))
    assert not seg.pausing


@pytest.mark.skipif(not have_flite(), reason="Debian flite not installed")
def test_silero_finds_speech_and_not_tones() -> None:
    speech, rate = synthesize(COURT_SENTENCES[1], "slt")
    assert rate == SAMPLE_RATE
    audio = np.concatenate([quiet(1), speech, quiet(1), tone(2), quiet(1)])
    utts = utterances(run(Segmenter(SileroVAD(), SEG), audio))
    assert len(utts) == 1
    assert utts[0].start == pytest.approx(1.0, abs=0.35)
    assert utts[0].end == pytest.approx(1.0 + speech.size / SAMPLE_RATE, abs=0.5)


def test_silero_refuses_an_altered_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "silero.onnx"
    bad.write_bytes(b"not the model")
    with pytest.raises(VADUnavailable):
        SileroVAD(bad)
