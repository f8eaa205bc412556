"""The catalog the HTTP routes use: listing, and resolving downloads without traversal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recording import RecordingCatalog, RecordingNotFound
from recording.manifest import FORMAT, EntryType, ManifestWriter, sha256_file
from recording.paths import is_safe_name, is_safe_relative_path, track_key


def _recording(root: Path, hearing: str, rec: str, *, final: bool) -> Path:
    d = root / hearing / rec
    m = ManifestWriter(d, hearing_id=hearing, recording_id=rec,
                       signing_key=Ed25519PrivateKey.generate())  # fmt: skip
    m.append(
        EntryType.RECORDING_STARTED,
        {"format": FORMAT, "hearing_id": hearing, "recording_id": rec,
         "started_at": "2026-01-05T09:00:00.000000+00:00",
         "metadata": {"case_number": "(2026)京0105民初1号", "visibility": "sealed"}},
    )  # fmt: skip
    m.append(
        EntryType.TRACK_STARTED,
        {"track": "t001-video-p1", "pid": "p1", "kind": "video", "name": "王法官",
         "role": "judge", "codec": "video/vp8", "start_offset_us": 250_000,
         "start_at": "2026-01-05T09:00:00.250000+00:00", "stream": 0},
    )  # fmt: skip
    for n in (1, 2):
        rel = f"t001-video-p1/{n:05d}.webm"
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_bytes(b"webm" * n)
        sha, size = sha256_file(d / rel)
        m.append(
            EntryType.SEGMENT,
            {"track": "t001-video-p1", "kind": "video", "index": n, "file": rel,
             "sha256": sha, "bytes": size, "start_us": 250_000 + (n - 1) * 10_000_000,
             "duration_us": 10_000_000, "start_at": "x", "complete": True},
        )  # fmt: skip
    if final:
        m.append(EntryType.RECORDING_STOPPED, {"stopped_at": "2026-01-05T10:00:00+00:00"})
        m.sign(final=True)
    m.close()
    return d


@pytest.fixture
def catalog(tmp_path: Path) -> RecordingCatalog:
    root = tmp_path / "recordings"
    _recording(root, "h1", "rec-20260105T090000Z-aaaaaa", final=True)
    _recording(root, "h1", "rec-20260105T140000Z-bbbbbb", final=False)
    (root / "h1" / "not-a-recording").mkdir()
    (tmp_path / "secret.txt").write_text("outside the recordings")
    return RecordingCatalog(root)


def test_list_and_get(catalog: RecordingCatalog) -> None:
    recs = catalog.list("h1")
    assert [r.recording_id for r in recs] == [
        "rec-20260105T090000Z-aaaaaa",
        "rec-20260105T140000Z-bbbbbb",
    ]
    first, second = recs
    assert first.finalized and first.stopped_at is not None
    assert not second.finalized and second.stopped_at is None
    assert first.metadata["visibility"] == "sealed"
    (track,) = first.tracks
    assert (track.pid, track.name, track.role, track.start_offset_us) == (
        "p1", "王法官", "judge", 250_000,
    )  # fmt: skip
    assert [s.file for s in first.segments] == [
        "t001-video-p1/00001.webm",
        "t001-video-p1/00002.webm",
    ]
    assert first.segments[0].media_type == "video/webm"
    assert first.total_bytes == 12
    data = first.to_dict()
    assert data["segments"][1]["start_us"] == 10_250_000
    assert catalog.get("h1", first.recording_id) == first
    assert catalog.list("h2") == [] and catalog.list("../h1") == []
    assert catalog.verify("h1", first.recording_id) == []


def test_resolve_listed_files(catalog: RecordingCatalog) -> None:
    rid = "rec-20260105T090000Z-aaaaaa"
    path = catalog.resolve("h1", rid, "t001-video-p1/00002.webm")
    assert path.read_bytes() == b"webmwebm"
    for name in ("manifest.jsonl", "manifest.sig", "public_key.pem"):
        assert catalog.resolve("h1", rid, name).is_file()


@pytest.mark.parametrize(
    ("hearing", "rec", "file"),
    [
        ("h1", "rec-20260105T090000Z-aaaaaa", "../../../secret.txt"),
        ("h1", "rec-20260105T090000Z-aaaaaa", "t001-video-p1/../manifest.jsonl"),
        ("h1", "rec-20260105T090000Z-aaaaaa", "/etc/passwd"),
        ("h1", "rec-20260105T090000Z-aaaaaa", "t001-video-p1\\00001.webm"),
        ("h1", "rec-20260105T090000Z-aaaaaa", "t001-video-p1/00003.webm"),
        ("h1", "rec-20260105T090000Z-aaaaaa", "t001-video-p1"),
        ("h1", "rec-20260105T090000Z-aaaaaa", "manifest.sig.tmp"),
        ("h1", "rec-20260105T090000Z-aaaaaa", ""),
        ("h1", "rec-20260105T090000Z-aaaaaa", "./manifest.jsonl"),
        ("h1", "..", "manifest.jsonl"),
        ("..", "recordings", "secret.txt"),
        ("h1", "not-a-recording", "manifest.jsonl"),
        ("h1", "rec-missing", "manifest.jsonl"),
        ("h1/rec-20260105T090000Z-aaaaaa", "t001-video-p1", "00001.webm"),
        ("h1", "rec-20260105T090000Z-aaaaaa\x00", "manifest.jsonl"),
    ],
)
def test_resolve_refuses_everything_else(
    catalog: RecordingCatalog, hearing: str, rec: str, file: str
) -> None:
    with pytest.raises(RecordingNotFound):
        catalog.resolve(hearing, rec, file)


def test_resolve_refuses_symlinks(catalog: RecordingCatalog, tmp_path: Path) -> None:
    rid = "rec-20260105T090000Z-aaaaaa"
    seg = catalog.root / "h1" / rid / "t001-video-p1" / "00001.webm"
    seg.unlink()
    seg.symlink_to(tmp_path / "secret.txt")
    with pytest.raises(RecordingNotFound):
        catalog.resolve("h1", rid, "t001-video-p1/00001.webm")
    # A hearing directory that is a link to somewhere else is not followed either.
    os.symlink(catalog.root / "h1", catalog.root / "h9")
    assert catalog.list("h9") == []
    with pytest.raises(RecordingNotFound):
        catalog.resolve("h9", rid, "manifest.jsonl")


def test_names() -> None:
    assert is_safe_name("0f3c9a") and is_safe_name("rec-20260105T090000Z-aaaaaa")
    for bad in ("", ".", "..", ".hidden", "-x", "a/b", "a\\b", "a..b", "x" * 129, "a\x00"):
        assert not is_safe_name(bad), bad
    assert is_safe_relative_path("t001-audio-p/00001.webm")
    for bad in ("", "/a", "a//b", "a/./b", "a/../b", "..", "a\\b"):
        assert not is_safe_relative_path(bad), bad
    assert track_key(3, "video", "p/../1 x") == "t003-video-p____1_x"
    assert track_key(4, "composite", None) == "t004-composite"
