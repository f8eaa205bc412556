"""The engine in a child process: errors cross the process boundary with their retryable
flag, and a dead child is replaced."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from transcription.engines import FasterWhisperSettings
from transcription.engines.process import ProcessSTT
from transcription.models import BUNDLED_TINY_EN_SHA256, bundled_model
from transcription.stt import STTError
from transcription.testing import COURT_SENTENCES, have_flite, synthesize, to_16k
from transcription.wer import wer


async def test_a_dead_engine_process_is_replaced() -> None:
    stt = ProcessSTT(("pocketsphinx", None), nice=0)
    await stt.prewarm()
    pool = stt._pool
    assert pool is not None
    for pid in list(pool._processes):  # type: ignore[attr-defined]
        os.kill(pid, signal.SIGKILL)
    audio = to_16k(*synthesize(COURT_SENTENCES[1], "slt")) if have_flite() else None
    if audio is None:
        pytest.skip("Debian flite not installed")
    with pytest.raises(STTError) as err:
        await stt.recognize(audio)
    assert err.value.retryable
    event = await stt.recognize(audio)  # a new child
    assert wer(COURT_SENTENCES[1], event.text).rate <= 0.35
    await stt.aclose()


async def test_a_model_that_fails_its_hash_check_does_not_load(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    for f in bundled_model().path.iterdir():
        if f.name == "config.json":
            (model / f.name).write_text(f.read_text().replace("50257", "50258", 1))
        else:
            (model / f.name).symlink_to(f)
    stt = ProcessSTT(("faster-whisper", FasterWhisperSettings(
        model_dir=model, model_sha256=BUNDLED_TINY_EN_SHA256)), nice=0)
    with pytest.raises(STTError) as err:
        await stt.prewarm()
    assert not err.value.retryable and "config.json" in str(err.value)
    await stt.aclose()
