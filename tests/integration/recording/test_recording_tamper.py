"""Tampering with a finished recording: every change is found and named precisely."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from recording_harness import Recorded

from recording import ProblemKind, Severity, Status, inspect_recording, verify_recording
from recording.cli import main as verify_main
from recording.manifest import canonical_json, entry_hash


def _lines(directory: Path) -> list[str]:
    return (directory / "manifest.jsonl").read_text(encoding="utf-8").splitlines()


def _write_lines(directory: Path, lines: list[str]) -> None:
    (directory / "manifest.jsonl").write_text("".join(x + "\n" for x in lines), encoding="utf-8")


def _kinds(directory: Path) -> set[ProblemKind]:
    problems = verify_recording(directory)
    assert all(p.severity is Severity.ERROR for p in problems), problems
    return {p.kind for p in problems}


def _segment_line(lines: list[str], index: int = 1) -> tuple[int, dict[str, object]]:
    found = [(i, json.loads(x)) for i, x in enumerate(lines) if json.loads(x)["type"] == "segment"]
    return found[index]


def test_flipping_one_byte_anywhere_in_any_file_is_found(
    finished_recording: Recorded, tmp_path: Path
) -> None:
    source = finished_recording.directory
    files = sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    assert len(files) == 15  # 12 segments + manifest, signature, public key
    for n, rel in enumerate(files):
        size = (source / rel).stat().st_size
        for position in sorted({0, size // 2, size - 1}):
            copy = tmp_path / f"c{n}-{position}"
            shutil.copytree(source, copy)
            data = bytearray((copy / rel).read_bytes())
            data[position] ^= 0xFF
            (copy / rel).write_bytes(bytes(data))
            report = inspect_recording(copy)
            assert report.status is Status.FAILED, (rel, position)
            named = [p for p in report.errors if p.path == rel]
            assert named, (rel, position, [str(p) for p in report.problems])
            shutil.rmtree(copy)


def test_altered_segment_message_names_file_and_entry(recording_copy: Path) -> None:
    lines = _lines(recording_copy)
    _i, entry = _segment_line(lines, 4)
    rel = entry["data"]["file"]  # type: ignore[index]
    path = recording_copy / rel
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x01
    path.write_bytes(bytes(data))
    (problem,) = verify_recording(recording_copy)
    assert problem.kind is ProblemKind.FILE_ALTERED
    assert problem.path == rel and problem.seq == entry["seq"]
    assert "same size" in problem.message and "altered" in problem.message
    assert str(problem).startswith(f"error: {rel} entry {entry['seq']}: SHA-256 is ")


def test_removed_segment_is_reported_missing(recording_copy: Path) -> None:
    _, entry = _segment_line(_lines(recording_copy), 2)
    rel = entry["data"]["file"]  # type: ignore[index]
    (recording_copy / rel).unlink()
    (problem,) = verify_recording(recording_copy)
    assert problem.kind is ProblemKind.FILE_MISSING
    assert problem.path == rel and problem.seq == entry["seq"]
    assert "missing" in problem.message


def test_segment_removed_with_its_manifest_entry(recording_copy: Path) -> None:
    lines = _lines(recording_copy)
    i, entry = _segment_line(lines, 2)
    rel = entry["data"]["file"]  # type: ignore[index]
    (recording_copy / rel).unlink()
    del lines[i]
    _write_lines(recording_copy, lines)
    problems = verify_recording(recording_copy)
    kinds = {p.kind for p in problems}
    assert ProblemKind.ENTRIES_MISSING in kinds
    gap = next(p for p in problems if p.kind is ProblemKind.ENTRIES_MISSING)
    assert gap.seq == entry["seq"] + 1
    assert f"entry {entry['seq']} is missing" in gap.message


def test_manifest_entry_removed_leaves_an_unlisted_file(recording_copy: Path) -> None:
    lines = _lines(recording_copy)
    i, entry = _segment_line(lines, 0)
    del lines[i]
    _write_lines(recording_copy, lines)
    problems = verify_recording(recording_copy)
    extra = [p for p in problems if p.kind is ProblemKind.EXTRA_FILE]
    assert [p.path for p in extra] == [entry["data"]["file"]]  # type: ignore[index]
    assert ProblemKind.ENTRIES_MISSING in {p.kind for p in problems}


def test_edited_manifest_entry(recording_copy: Path) -> None:
    lines = _lines(recording_copy)
    i, entry = _segment_line(lines, 1)
    entry["data"]["duration_us"] += 1_000_000  # type: ignore[index, operator]
    lines[i] = canonical_json(entry).decode()
    _write_lines(recording_copy, lines)
    (problem,) = verify_recording(recording_copy)
    assert problem.kind is ProblemKind.ENTRY_ALTERED
    assert problem.seq == entry["seq"] and problem.path == "manifest.jsonl"
    assert "'segment' entry was edited" in problem.message


def test_edited_entry_with_its_hash_recomputed_breaks_the_next_link(
    recording_copy: Path,
) -> None:
    lines = _lines(recording_copy)
    i, entry = _segment_line(lines, 1)
    entry["data"]["name"] = "someone else"  # type: ignore[index]
    entry["hash"] = entry_hash(entry)
    lines[i] = canonical_json(entry).decode()
    _write_lines(recording_copy, lines)
    (problem,) = verify_recording(recording_copy)
    assert problem.kind is ProblemKind.BROKEN_LINK
    assert problem.seq == entry["seq"] + 1  # type: ignore[operator]


def test_rewritten_chain_does_not_match_the_signature(recording_copy: Path) -> None:
    lines = _lines(recording_copy)
    entries = [json.loads(x) for x in lines]
    entries[3]["data"]["role"] = "observer"
    prev = "0" * 64
    for e in entries:  # re-chain everything: consistent, but not what was signed
        e["prev_hash"] = prev
        e["hash"] = prev = entry_hash(e)
    _write_lines(recording_copy, [canonical_json(e).decode() for e in entries])
    (problem,) = verify_recording(recording_copy)
    assert problem.kind is ProblemKind.SIGNATURE_MISMATCH
    assert "rewritten after signing" in problem.message


def test_reordered_entries(recording_copy: Path) -> None:
    lines = _lines(recording_copy)
    lines[5], lines[6] = lines[6], lines[5]
    _write_lines(recording_copy, lines)
    kinds = _kinds(recording_copy)
    assert ProblemKind.OUT_OF_ORDER in kinds


def test_entries_cut_off_the_end(recording_copy: Path) -> None:
    lines = _lines(recording_copy)
    last_segment = max(i for i, x in enumerate(lines) if json.loads(x)["type"] == "segment")
    _write_lines(recording_copy, lines[:last_segment])
    problems = verify_recording(recording_copy)
    mismatch = [p for p in problems if p.kind is ProblemKind.SIGNATURE_MISMATCH]
    assert mismatch and "cut off the end" in mismatch[0].message
    extra = [p.path for p in problems if p.kind is ProblemKind.EXTRA_FILE]
    assert extra == [json.loads(lines[last_segment])["data"]["file"]]


def test_entry_appended_after_the_final_signature(recording_copy: Path) -> None:
    lines = _lines(recording_copy)
    last = json.loads(lines[-1])
    extra = {
        "seq": last["seq"] + 1,
        "type": "paused",
        "at": last["at"],
        "data": {"at_us": 1},
        "prev_hash": last["hash"],
    }
    extra["hash"] = entry_hash(extra)
    _write_lines(recording_copy, [*lines, canonical_json(extra).decode()])
    (problem,) = verify_recording(recording_copy)
    assert problem.kind is ProblemKind.SIGNATURE_MISMATCH
    assert "added after the final signature" in problem.message


def test_signature_removed(recording_copy: Path) -> None:
    (recording_copy / "manifest.sig").unlink()
    (problem,) = verify_recording(recording_copy)
    assert problem.kind is ProblemKind.SIGNATURE_MISSING


def test_extra_file(recording_copy: Path) -> None:
    (recording_copy / "t001-video-judge" / "00009.webm").write_bytes(b"not ours")
    (problem,) = verify_recording(recording_copy)
    assert problem.kind is ProblemKind.EXTRA_FILE
    assert problem.path == "t001-video-judge/00009.webm"


def test_cli_exit_codes(recording_copy: Path, capsys: object) -> None:
    assert verify_main([str(recording_copy)]) == 0
    assert verify_main([str(recording_copy / "nope")]) == 2
    assert verify_main([]) == 2
    assert verify_main([str(recording_copy), "--public-key", str(recording_copy / "nope")]) == 2
    assert verify_main([str(recording_copy), "--public-key",
                        str(recording_copy / "public_key.pem")]) == 0  # fmt: skip
    seg = next(recording_copy.glob("t003-video-party/*.mkv"))
    data = bytearray(seg.read_bytes())
    data[100] ^= 0x10
    seg.write_bytes(bytes(data))
    assert verify_main([str(recording_copy)]) == 1


def test_cli_runs_as_a_program(recording_copy: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "recording.cli", str(recording_copy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "OK: every file matches the manifest" in proc.stdout
    (recording_copy / "t002-audio-judge" / "00002.webm").unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "recording.cli", str(recording_copy), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["status"] == "failed"
    assert report["problems"][0]["kind"] == "file_missing"
    assert report["problems"][0]["path"] == "t002-audio-judge/00002.webm"
