"""Closing a recording that its writer left unfinished (the server was killed, or its node
died and another one serves the hearing now).

The intact entries stay exactly as they are; a torn last line (the entry being written when
the process died) is cut off, as it was never part of the record. A ``recording_stopped``
entry marked ``interrupted`` is appended, saying when the record ends (its last entry),
when the interruption was found, the unfinished segment files (``.part``, not part of the
record) and the recording that continues the hearing; then the manifest is signed, final.
A manifest whose entries do not chain (damaged or edited, not merely cut short), or that
was signed with another key, is left untouched: ``hearing-server verify-recording`` tells.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .clock import iso
from .manifest import (
    GENESIS_HASH,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    EntryType,
    ManifestError,
    ManifestWriter,
    SignatureError,
    entry_hash,
    read_manifest,
    read_signature,
)
from .segments import PART_SUFFIX
from .signing import key_fingerprint


@dataclass(frozen=True, slots=True)
class Interrupted:
    """What closing an unfinished recording found: ``closed`` is False (with ``reason``)
    when it was left as it is."""

    recording_id: str
    closed: bool
    ended_at: str | None = None  # the last intact entry's time: where the record stops
    entries: int = 0
    unfinished_files: tuple[str, ...] = ()
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "recording_id": self.recording_id,
            "closed": self.closed,
            "ended_at": self.ended_at,
            "entries": self.entries,
            "unfinished_files": list(self.unfinished_files),
            "reason": self.reason,
        }


def close_interrupted(
    directory: Path,
    signing_key: Ed25519PrivateKey,
    *,
    detected_at: datetime,
    continued_in: str | None,
) -> Interrupted:
    """Close the unfinished recording in ``directory`` (see the module's docstring).

    Raises OSError when the directory cannot be read or written (a full disk): the recording
    stays unfinished, as it was, and a later call may close it."""
    recording_id = directory.name
    manifest = directory / MANIFEST_NAME
    if not manifest.is_file():
        return Interrupted(recording_id, False, reason="no manifest")
    sig, _why = read_signature(directory / SIGNATURE_NAME)
    if sig is not None and sig["final"]:
        return Interrupted(recording_id, False, reason="already final")
    entries: list[dict[str, Any]] = []
    size = 0
    head = GENESIS_HASH
    for line in read_manifest(manifest):
        entry = line.entry
        if line.torn:
            break  # the entry being written when the writer died: never part of the record
        if (
            entry is None
            or entry["seq"] != len(entries) + 1
            or entry["prev_hash"] != head
            or entry_hash({k: v for k, v in entry.items() if k != "hash"}) != entry["hash"]
        ):
            return Interrupted(recording_id, False, reason=f"entry {line.number} does not chain")
        entries.append(entry)
        head = entry["hash"]
        size += len(line.raw) + 1
    if not entries or entries[0]["type"] != EntryType.RECORDING_STARTED:
        return Interrupted(recording_id, False, reason="no recording_started entry")
    started = entries[0]["data"]
    if started.get("key_fingerprint") != key_fingerprint(signing_key):
        return Interrupted(recording_id, False, reason="signed with another key")
    # Stopped, but the process died before the final signature: only that is missing.
    stopped_entry = any(e["type"] == EntryType.RECORDING_STOPPED for e in entries)
    unfinished = tuple(
        sorted(
            p.relative_to(directory).as_posix()
            for p in directory.rglob(f"*{PART_SUFFIX}")
            if p.parent != directory
        )
    )
    try:
        writer = ManifestWriter.resume(
            directory,
            hearing_id=str(started.get("hearing_id", "")),
            recording_id=str(started.get("recording_id", recording_id)),
            signing_key=signing_key,
            entries=len(entries),
            head_hash=head,
            size=size,
        )
    except BlockingIOError:
        return Interrupted(recording_id, False, reason="still being written by a live process")
    try:
        _close(writer, entries, stopped_entry, unfinished, detected_at, continued_in)
    except (ManifestError, SignatureError) as exc:
        # Nothing is lost: an entry that failed is cut off again (or was written whole), and
        # a later call with space to write finishes the closing.
        raise OSError(f"cannot close recording {recording_id}: {exc}") from exc
    finally:
        writer.close()
    return Interrupted(
        recording_id,
        True,
        ended_at=entries[-1]["at"],
        entries=len(entries),
        unfinished_files=unfinished,
    )


def _close(
    writer: ManifestWriter,
    entries: list[dict[str, Any]],
    stopped_entry: bool,
    unfinished: tuple[str, ...],
    detected_at: datetime,
    continued_in: str | None,
) -> None:
    """Append the ``recording_stopped`` entry (unless it is there) and sign final."""
    if not stopped_entry:
        segments = [e["data"] for e in entries if e["type"] == EntryType.SEGMENT]
        writer.append(
            EntryType.RECORDING_STOPPED,
            {
                "stopped_at": entries[-1]["at"],
                "duration_us": max(
                    (int(s.get("start_us", 0)) + int(s.get("duration_us", 0))) for s in segments
                )
                if segments
                else 0,
                "tracks": sum(1 for e in entries if e["type"] == EntryType.TRACK_STARTED),
                "segments": len(segments),
                "incomplete_segments": sum(1 for s in segments if s.get("complete") is False),
                "frames_lost": sum(int(s.get("lost_frames", 0)) for s in segments),
                "interrupted": True,
                "detected_at": iso(detected_at),
                "unfinished_files": list(unfinished),
                "continued_in": continued_in,
            },
            at=detected_at,
        )
    writer.sign(final=True)
