"""The manifest writer, the signing key and verification, on small synthetic recordings
(fake segment files: verification never looks inside them, only at their hashes)."""

from __future__ import annotations

import base64
import errno
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recording import (
    ProblemKind,
    Severity,
    SigningKeyError,
    Status,
    inspect_recording,
    key_fingerprint,
    load_or_create_signing_key,
    load_public_key,
    public_key_pem,
    verify_recording,
)
from recording.manifest import (
    FORMAT,
    GENESIS_HASH,
    EntryType,
    ManifestError,
    ManifestWriter,
    canonical_json,
    entry_hash,
    read_manifest,
    sha256_file,
)


def _writer(directory: Path, key: Ed25519PrivateKey) -> ManifestWriter:
    m = ManifestWriter(directory, hearing_id="h1", recording_id="rec-1", signing_key=key)
    m.append(
        EntryType.RECORDING_STARTED,
        {"format": FORMAT, "hearing_id": "h1", "recording_id": "rec-1", "metadata": {}},
    )
    return m


def _add_segment(m: ManifestWriter, directory: Path, n: int, content: bytes) -> str:
    rel = f"t001-audio-p/{n:05d}.webm"
    part = directory / (rel + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(content)
    sha, size = sha256_file(part)
    data = {"track": "t001-audio-p", "index": n, "file": rel, "sha256": sha, "bytes": size}
    m.append(EntryType.SEGMENT, data, after=lambda: os.replace(part, directory / rel))
    return rel


def _make(
    directory: Path, key: Ed25519PrivateKey, *, segments: int = 3, final: bool = True
) -> list[str]:
    m = _writer(directory, key)
    rels = [
        _add_segment(m, directory, i + 1, f"segment {i} ".encode() * 50) for i in range(segments)
    ]
    if final:
        m.append(EntryType.RECORDING_STOPPED, {"segments": segments})
        m.sign(final=True)
    m.close()
    return rels


@pytest.fixture
def key(tmp_path: Path) -> Ed25519PrivateKey:
    return load_or_create_signing_key(tmp_path / "key.pem")


def _lines(d: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (d / "manifest.jsonl").read_text().splitlines()]


# -- signing key --------------------------------------------------------------------------


def test_signing_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "data" / "recording.key"
    k1 = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    k2 = load_or_create_signing_key(path)
    assert key_fingerprint(k1) == key_fingerprint(k2)
    assert key_fingerprint(k1).startswith("SHA256:") and len(key_fingerprint(k1)) == 71
    pem = public_key_pem(k1)
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert key_fingerprint(load_public_key(pem)) == key_fingerprint(k1)
    raw = base64.b64encode(load_public_key(pem).public_bytes_raw())
    assert key_fingerprint(load_public_key(raw)) == key_fingerprint(k1)
    with pytest.raises(ValueError):
        load_public_key(b"not a key")


def test_signing_key_file_that_is_not_a_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.key"
    path.write_text("hello")
    with pytest.raises(SigningKeyError):
        load_or_create_signing_key(path)


def test_concurrent_first_use_yields_one_key(tmp_path: Path) -> None:
    path = tmp_path / "race.key"
    results: list[str] = []
    errors: list[BaseException] = []

    def load() -> None:
        try:
            results.append(key_fingerprint(load_or_create_signing_key(path)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 8 and len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["race.key"]


# -- the manifest ---------------------------------------------------------------------------


def test_entries_are_hash_chained_and_canonical(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    _make(tmp_path / "r", key)
    entries = _lines(tmp_path / "r")
    assert [e["seq"] for e in entries] == list(range(1, 6))
    assert entries[0]["prev_hash"] == GENESIS_HASH
    for prev, e in zip([None, *entries], entries, strict=False):
        assert e["hash"] == entry_hash(e)
        if prev is not None:
            assert e["prev_hash"] == prev["hash"]
    raw = (tmp_path / "r" / "manifest.jsonl").read_bytes().splitlines()
    assert all(line == canonical_json(e) for line, e in zip(raw, entries, strict=True))
    sig = json.loads((tmp_path / "r" / "manifest.sig").read_text())
    assert sig["final"] is True and sig["entries"] == 5 and sig["head_hash"] == entries[-1]["hash"]


def test_final_manifest_takes_no_more_entries(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    m = _writer(tmp_path / "r", key)
    m.sign(final=True)
    with pytest.raises(ManifestError):
        m.append(EntryType.PAUSED, {"at_us": 1})


def test_floats_and_non_json_values_are_refused(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    m = _writer(tmp_path / "r", key)
    with pytest.raises(ValueError):
        m.append(EntryType.PAUSED, {"at": float("nan")})
    with pytest.raises(TypeError):
        m.append(EntryType.PAUSED, {"at": object()})
    assert m.count == 1


def test_failed_write_keeps_the_entry_and_leaves_no_torn_line(
    tmp_path: Path, key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = tmp_path / "r"
    m = _writer(d, key)
    real = os.write
    calls = {"n": 0}

    def half_write(fd: int, data: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            real(fd, bytes(data[:10]))  # a partial line reaches the disk...
            raise OSError(errno.ENOSPC, "No space left on device")  # ...then the disk is full
        return real(fd, data)

    monkeypatch.setattr(os, "write", half_write)
    with pytest.raises(ManifestError, match="No space left"):
        m.append(EntryType.PAUSED, {"at_us": 5})
    assert m.pending == 1 and m.count == 1
    assert [ln.entry is not None for ln in read_manifest(d / "manifest.jsonl")] == [True]
    assert m.append(EntryType.RESUMED, {"at_us": 9}) is True  # writing works again
    assert [e["type"] for e in _lines(d)] == ["recording_started", "paused", "resumed"]
    m.sign(final=False)
    assert inspect_recording(d).status is Status.UNSIGNED


# -- verification ---------------------------------------------------------------------------


def test_intact_recording(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    _make(tmp_path / "r", key)
    assert verify_recording(tmp_path / "r") == []
    assert verify_recording(tmp_path / "r", public_key=key.public_key()) == []
    report = inspect_recording(tmp_path / "r")
    assert (report.status, report.segments, report.hearing_id) == (Status.OK, 3, "h1")


def test_untrusted_key(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    _make(tmp_path / "r", key)
    other = Ed25519PrivateKey.generate()
    (problem,) = verify_recording(tmp_path / "r", public_key=other.public_key())
    assert problem.kind is ProblemKind.UNTRUSTED_KEY
    assert key_fingerprint(other) in problem.message


def test_recording_re_signed_with_another_key_is_caught_by_the_public_key_file(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    d = tmp_path / "r"
    _make(d, key)
    # Someone rewrites the signature with their own key (but leaves public_key.pem alone).
    forger = Ed25519PrivateKey.generate()
    m = ManifestWriter.__new__(ManifestWriter)
    m.directory, m.hearing_id, m.recording_id = d, "h1", "rec-1"
    m._key = forger  # type: ignore[attr-defined]
    m._count = 5  # type: ignore[attr-defined]
    m._head = _lines(d)[-1]["hash"]  # type: ignore[attr-defined]
    m._sign_locked(final=True)  # type: ignore[attr-defined]
    (problem,) = verify_recording(d)
    assert problem.kind is ProblemKind.PUBLIC_KEY_MISMATCH
    # With the published key, the forgery is plain.
    kinds = {p.kind for p in verify_recording(d, public_key=key.public_key())}
    assert ProblemKind.UNTRUSTED_KEY in kinds


def test_crashed_recording_is_unsigned_but_intact(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    d = tmp_path / "r"
    m = _writer(d, key)
    for i in range(4):
        _add_segment(m, d, i + 1, b"x" * (100 + i))
    # What a crash leaves: an unfinished segment, a torn last line, no final signature.
    (d / "t001-audio-p" / "00005.webm.part").write_bytes(b"half a segment")
    with (d / "manifest.jsonl").open("ab") as fh:
        fh.write(b'{"seq":6,"type":"seg')
    report = inspect_recording(d)
    assert report.status is Status.UNSIGNED
    kinds = [p.kind for p in report.problems]
    assert kinds == [
        ProblemKind.NOT_FINALIZED,
        ProblemKind.TORN_ENTRY,
        ProblemKind.UNFINISHED_SEGMENT,
    ]
    assert all(p.severity is Severity.WARNING for p in report.problems)
    assert report.problems[0].message.startswith("unsigned: 4 segments intact")
    assert "entries 1-5 are covered by a checkpoint signature" in report.problems[0].message
    # The same crashed recording with one segment altered: tampering, not a crash.
    seg = d / "t001-audio-p" / "00002.webm"
    seg.write_bytes(b"y" * 101)
    report = inspect_recording(d)
    assert report.status is Status.FAILED
    assert [(p.kind, p.path) for p in report.errors] == [
        (ProblemKind.FILE_ALTERED, "t001-audio-p/00002.webm")
    ]


def test_crash_between_listing_and_renaming(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    d = tmp_path / "r"
    _make(d, key, final=False)
    seg = d / "t001-audio-p" / "00003.webm"
    seg.rename(seg.with_name("00003.webm.part"))
    report = inspect_recording(d)
    assert report.status is Status.UNSIGNED
    assert ProblemKind.FILE_NOT_RENAMED in {p.kind for p in report.problems}


def test_manifest_missing_or_garbage(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    (tmp_path / "empty").mkdir()
    (problem,) = verify_recording(tmp_path / "empty")
    assert problem.kind is ProblemKind.MANIFEST_MISSING
    d = tmp_path / "r"
    _make(d, key)
    with (d / "manifest.jsonl").open("ab") as fh:
        fh.write(b"[1, 2]\n")
    kinds = {p.kind for p in verify_recording(d)}
    assert ProblemKind.MALFORMED_ENTRY in kinds


def test_unsafe_paths_in_a_validly_signed_manifest(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    d = tmp_path / "r"
    (tmp_path / "secret").write_text("outside")
    m = _writer(d, key)
    for rel in ("../secret", "/etc/passwd", "t001/../../secret"):
        m.append(EntryType.SEGMENT, {"file": rel, "sha256": "0" * 64, "bytes": 1})
    m.append(EntryType.RECORDING_STOPPED, {})
    m.sign(final=True)
    problems = verify_recording(d)
    assert [p.kind for p in problems] == [ProblemKind.UNSAFE_PATH] * 3


def test_symlinked_segment(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    d = tmp_path / "r"
    rels = _make(d, key)
    target = d / rels[0]
    outside = tmp_path / "outside.webm"
    outside.write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(outside)
    (problem,) = verify_recording(d)
    assert problem.kind is ProblemKind.UNSAFE_PATH and problem.path == rels[0]


def test_signature_edits(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    d = tmp_path / "r"
    _make(d, key)
    sig_path = d / "manifest.sig"
    original = json.loads(sig_path.read_text())
    for field, value, kind in (
        ("entries", 4, ProblemKind.SIGNATURE_INVALID),
        ("final", False, ProblemKind.SIGNATURE_INVALID),
        ("signature", "AAAA", ProblemKind.SIGNATURE_INVALID),
        ("signature", "!!", ProblemKind.SIGNATURE_MALFORMED),
        ("entries", "five", ProblemKind.SIGNATURE_MALFORMED),
    ):
        sig_path.write_text(json.dumps({**original, field: value}))
        kinds = {p.kind for p in verify_recording(d)}
        assert kind in kinds, (field, value, kinds)
    sig_path.write_text(json.dumps(original))
    assert verify_recording(d) == []
