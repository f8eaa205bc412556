"""Fixtures for recording tests: a signing key, and one finished 25-second recording
(shared by the module, copied before anyone changes it)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from recording_harness import Recorded, add_standard_tracks, record_sources

from recording import load_or_create_signing_key


@pytest.fixture
def signing_key(tmp_path: Path) -> Ed25519PrivateKey:
    return load_or_create_signing_key(tmp_path / "keys" / "recording.key")


@pytest.fixture(scope="module")
def finished_recording(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """One complete, signed recording of the standard tracks. Do not modify: copy it."""
    base = tmp_path_factory.mktemp("finished")
    key = load_or_create_signing_key(base / "recording.key")
    return asyncio.run(record_sources(base / "recordings", key, add_standard_tracks))


@pytest.fixture
def recording_copy(finished_recording: Recorded, tmp_path: Path) -> Path:
    """A private copy of the finished recording's directory, free to tamper with."""
    dest = tmp_path / "copy" / finished_recording.directory.name
    shutil.copytree(finished_recording.directory, dest)
    return dest
