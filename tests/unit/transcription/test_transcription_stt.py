from __future__ import annotations

import asyncio

import numpy as np
import pytest
from transcription_fakes import SEG, FakeSTT, fail_with, quiet, tone

from transcription.streaming import StreamAdapter, StreamSettings
from transcription.stt import FallbackAdapter, SpeechEvent, SpeechEventType, STTError
from transcription.vad import EnergyVAD

NO_INTERIM = StreamSettings(segmenter=SEG, interim_interval_s=None)


async def collect(stream: object) -> list[SpeechEvent]:
    return [ev async for ev in stream]  # type: ignore[attr-defined]


async def test_batch_recognize_runs_in_the_engine_thread() -> None:
    import threading

    stt = FakeSTT()
    ev = await stt.recognize(tone(1.0))
    assert ev.type is SpeechEventType.FINAL_TRANSCRIPT
    assert ev.text == "utterance 1 lasting 1.0" and ev.engine == "fake:1"
    assert threading.get_ident() not in stt.threads
    assert stt.stats.recognitions == 1 and stt.stats.audio_s == pytest.approx(1.0)
    await stt.aclose()


async def test_errors_say_whether_to_retry() -> None:
    stt = FakeSTT(script=fail_with(retryable=False))
    with pytest.raises(STTError) as err:
        await stt.recognize(tone(0.5))
    assert err.value.retryable is False and "permanent" in str(err.value)

    def boom(n: int, audio: object) -> None:
        raise RuntimeError("engine crashed")

    stt2 = FakeSTT(script=boom)
    with pytest.raises(STTError) as err2:
        await stt2.recognize(tone(0.5))
    assert err2.value.retryable is True  # unknown engine errors may be transient
    with pytest.raises(STTError):
        await stt.recognize(tone(0.5), language="zh")  # not in capabilities
    with pytest.raises(NotImplementedError):
        stt.stream()
    await stt.aclose()
    with pytest.raises(STTError):
        await stt.recognize(tone(0.5))


async def test_stream_adapter_events_in_order() -> None:
    adapter = StreamAdapter(FakeSTT(), EnergyVAD, NO_INTERIM)
    assert adapter.capabilities.streaming and not adapter.capabilities.interim_results
    stream = adapter.stream()
    audio = np.concatenate([quiet(0.5), tone(1.0), quiet(1.0), tone(1.5), quiet(0.3)])
    for i in range(0, audio.size, 320):
        stream.push_audio(audio[i : i + 320])
    stream.end_input()
    events = await collect(stream)
    kinds = [e.type for e in events]
    assert kinds.count(SpeechEventType.FINAL_TRANSCRIPT) == 2
    assert kinds[0] is SpeechEventType.START_OF_SPEECH
    finals = [e for e in events if e.type is SpeechEventType.FINAL_TRANSCRIPT]
    assert finals[0].start == pytest.approx(0.3, abs=0.05)
    assert finals[1].start == pytest.approx(2.3, abs=0.05)
    # Results are in stream time, not utterance time.
    assert finals[1].alternatives[0].start == finals[1].start
    assert [e.segment_id for e in finals] == [1, 2]
    await adapter.aclose()


async def test_retryable_errors_are_retried_and_permanent_ones_reported() -> None:
    def script(n: int, audio: object) -> None:
        if n == 1:
            raise STTError("busy", retryable=True)
        if n == 3:
            raise STTError("bad audio", retryable=False)

    settings = StreamSettings(segmenter=SEG, interim_interval_s=None, retry_backoff_s=0.01)
    adapter = StreamAdapter(FakeSTT(script=script), EnergyVAD, settings)
    stream = adapter.stream()
    stream.push_audio(np.concatenate([quiet(0.5), tone(1.0), quiet(1.0), tone(1.0), quiet(1)]))
    stream.end_input()
    events = [e for e in await collect(stream) if e.type in (
        SpeechEventType.FINAL_TRANSCRIPT, SpeechEventType.RECOGNITION_FAILED)]
    assert [e.type for e in events] == [SpeechEventType.FINAL_TRANSCRIPT,
                                        SpeechEventType.RECOGNITION_FAILED]
    assert events[1].error is not None and not events[1].error.retryable
    assert events[1].end > events[1].start > 2.0
    await adapter.aclose()


async def test_fallback_adapter_uses_the_next_engine() -> None:
    first = FakeSTT(script=fail_with(retryable=True))
    second = FakeSTT()
    second.name = "fake:2"
    fb = FallbackAdapter([first, second])
    ev = await fb.recognize(tone(0.5))
    assert ev.engine == "fake:2" and fb.last_engine == "fake:2" and fb.failures == [1, 0]
    second.script = fail_with(retryable=False)
    with pytest.raises(STTError) as err:
        await fb.recognize(tone(0.5))
    assert err.value.retryable is False
    await fb.aclose()


async def test_spilled_utterances_all_come_back(tmp_path: object) -> None:
    stt = FakeSTT(delay=0.05)
    adapter = StreamAdapter(stt, EnergyVAD, StreamSettings(segmenter=SEG, interim_interval_s=None,
                                                            max_in_memory=1))
    stream = adapter.stream()
    parts = [quiet(0.5)]
    for _ in range(8):
        parts += [tone(0.5), quiet(0.7)]
    stream.push_audio(np.concatenate(parts))
    stream.end_input()
    finals = [e for e in await collect(stream) if e.type is SpeechEventType.FINAL_TRANSCRIPT]
    assert len(finals) == 8
    assert stream.spilled > 0 and stream.max_queue_depth > 1
    assert [e.segment_id for e in finals] == sorted(e.segment_id for e in finals)
    await adapter.aclose()


async def _interims(paused: bool) -> tuple[int, int]:
    """(interim, final) results for 2 s of speech pushed in real time, 20 ms at a time."""
    settings = StreamSettings(segmenter=SEG, interim_interval_s=0.2, min_interim_s=0.2)
    adapter = StreamAdapter(FakeSTT(), EnergyVAD, settings)
    adapter.interims_paused = paused
    stream = adapter.stream()
    audio = np.concatenate([quiet(0.3), tone(2.0), quiet(0.6)])
    for i in range(0, audio.size, 320):
        stream.push_audio(audio[i : i + 320])
        await asyncio.sleep(0.005)  # faster than real time, slow enough for interims
    stream.end_input()
    kinds = [e.type for e in await collect(stream)]
    await adapter.aclose()
    return kinds.count(SpeechEventType.INTERIM_TRANSCRIPT), kinds.count(
        SpeechEventType.FINAL_TRANSCRIPT
    )


async def test_an_overloaded_server_pauses_interims_and_keeps_finals() -> None:
    interims, finals = await _interims(paused=False)
    assert interims >= 2 and finals == 1
    assert await _interims(paused=True) == (0, 1)
