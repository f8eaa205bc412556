"""The default model is the pinned one, verified by hash before it loads; court models are
verified against their SHA256SUMS."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from transcription.engines.faster_whisper import FasterWhisperSettings, FasterWhisperSTT
from transcription.models import (
    BASE_MODEL_BYTES,
    BASE_MODEL_DIR,
    BASE_SHA256,
    BUNDLED_TINY_EN_SHA256,
    ModelError,
    bundled_base_model,
    bundled_model,
    local_model,
    prepare,
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


# -- the multilingual Whisper base model, shipped in two packages ---------------------------


def test_whisper_base_is_joined_from_its_packages_once(tmp_path: Path) -> None:
    spec = bundled_base_model(tmp_path)
    assert spec.path == tmp_path / "models" / BASE_MODEL_DIR and spec.multilingual
    assert not spec.path.exists()  # joined at the first load, not when found
    prepare(spec)
    verify(spec)  # every file has its pinned hash
    assert (spec.path / "model.bin").stat().st_size == BASE_MODEL_BYTES
    assert sorted(p.name for p in spec.path.iterdir()) == sorted(BASE_SHA256)  # no temp left
    mtime = (spec.path / "model.bin").stat().st_mtime_ns
    prepare(spec)  # already whole: nothing is written again
    assert (spec.path / "model.bin").stat().st_mtime_ns == mtime


def test_a_damaged_join_is_made_again(tmp_path: Path) -> None:
    spec = bundled_base_model(tmp_path)
    prepare(spec)
    with (spec.path / "model.bin").open("r+b") as f:
        f.seek(1000)
        f.write(b"\0\0\0\0")
    (spec.path / "vocabulary.txt").unlink()
    prepare(spec)
    verify(spec)


def test_an_altered_part_is_refused_and_nothing_half_written_stays(tmp_path: Path) -> None:
    real = bundled_base_model(tmp_path)
    parts = []
    for i, folder in enumerate(real.parts):
        copy = tmp_path / f"part{i + 1}"
        copy.mkdir()
        for f in folder.iterdir():
            if f.name == "model.bin.part2":
                data = bytearray(f.read_bytes())
                data[-1] ^= 0xFF
                (copy / f.name).write_bytes(bytes(data))
            else:
                (copy / f.name).symlink_to(f)
        parts.append(copy)
    spec = replace(real, path=tmp_path / "joined", parts=tuple(parts))
    with pytest.raises(ModelError) as err:
        prepare(spec)
    assert "model.bin.part2" in str(err.value)
    assert not (spec.path / "model.bin").exists()
    assert not [p for p in spec.path.iterdir() if p.name.endswith(".tmp")]


def test_a_join_that_comes_out_wrong_is_not_renamed_into_place(tmp_path: Path) -> None:
    real = bundled_base_model(tmp_path)
    spec = replace(real, path=tmp_path / "joined",
                   sha256={**real.sha256, "model.bin": "0" * 64})
    with pytest.raises(ModelError) as err:
        prepare(spec)
    assert "joined model.bin" in str(err.value)
    # Files are made in name order: config.json before it, nothing of model.bin after.
    assert [p.name for p in spec.path.iterdir()] == ["config.json"]


def test_whisper_base_needs_a_data_dir_and_is_multilingual(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        FasterWhisperSTT(FasterWhisperSettings(model="base"))
    with pytest.raises(ModelError):
        FasterWhisperSTT(FasterWhisperSettings(model="small"))
    stt = FasterWhisperSTT(FasterWhisperSettings(model="base", data_dir=tmp_path))
    assert stt.capabilities.supports("zh") and stt.name == "faster-whisper:whisper-base"


def test_a_configured_hash_and_the_sums_file_both_pin_a_court_model(tmp_path: Path) -> None:
    model = copy_model(tmp_path / "court-model")
    config_sum = hashlib.sha256((model / "config.json").read_bytes()).hexdigest()
    (model / "SHA256SUMS").write_text(f"{config_sum}  config.json\n")
    spec = local_model(model, {"model.bin": BUNDLED_TINY_EN_SHA256["model.bin"]})
    assert set(spec.sha256) == {"config.json", "model.bin"}
    verify(spec)
    with pytest.raises(ModelError):
        verify(local_model(model, {"model.bin": "0" * 64}))
