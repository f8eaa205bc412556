"""The default model is the pinned one, verified by hash before it loads; court models are
verified against their SHA256SUMS."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from transcription.engines.faster_whisper import FasterWhisperSettings, FasterWhisperSTT
from transcription.models import (
    BUNDLED_TINY_EN_SHA256,
    ModelError,
    bundled_model,
    local_model,
    read_sums,
    verify,
)
from transcription.stt import STTError


def test_the_bundled_model_is_the_pinned_one() -> None:
    spec = bundled_model()
    assert set(spec.sha256) == {"config.json", "model.bin", "tokenizer.json", "vocabulary.txt"}
    assert spec.sha256 == BUNDLED_TINY_EN_SHA256
    verify(spec)  # raises if the installed package is not the pinned one


def copy_model(dst: Path, *, alter: str | None = None) -> Path:
    """The bundled model with symlinks for its files, one of them replaced by other bytes."""
    src = bundled_model().path
    dst.mkdir()
    for f in src.iterdir():
        if f.name == alter:
            (dst / f.name).write_bytes(f.read_bytes()[:-1] + b" ")
        else:
            (dst / f.name).symlink_to(f)
    return dst


async def test_an_altered_model_does_not_load(tmp_path: Path) -> None:
    model = copy_model(tmp_path / "m", alter="vocabulary.txt")
    stt = FasterWhisperSTT(FasterWhisperSettings(model_dir=model,
                                                 model_sha256=BUNDLED_TINY_EN_SHA256))
    assert stt.capabilities.languages == ("en",)
    with pytest.raises(STTError) as err:
        await stt.prewarm()
    assert not err.value.retryable and "vocabulary.txt" in str(err.value)
    await stt.aclose()


def test_court_models_are_checked_against_sha256sums(tmp_path: Path) -> None:
    model = copy_model(tmp_path / "court-model")
    sums = "\n".join(
        f"{hashlib.sha256((model / n).read_bytes()).hexdigest()}  {n}"
        for n in ("config.json", "vocabulary.txt")
    )
    (model / "SHA256SUMS").write_text(sums + "\n")
    spec = local_model(model)
    assert set(spec.sha256) == {"config.json", "vocabulary.txt"}
    verify(spec)
    (model / "SHA256SUMS").write_text(sums.replace(sums[:8], "00000000", 1))
    with pytest.raises(ModelError):
        verify(local_model(model))
    assert read_sums(tmp_path / "absent") == {}
    with pytest.raises(ModelError):
        local_model(tmp_path / "absent")
