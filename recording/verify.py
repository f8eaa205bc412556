"""Checking a recording directory: every file, the hash chain, and the signature.

:func:`inspect_recording` returns a :class:`VerifyReport` (status, counts, problems);
:func:`verify_recording` just the problems. Each :class:`Problem` names the file or entry
and says what is wrong in words. Severity ``error`` means the record was altered or damaged;
``warning`` means it is intact but incomplete in a way a crash explains (not finalized, a
``.part`` file left behind).

What the checks can show:

- a file altered (its SHA-256 differs from its entry), missing, or added (not in the
  manifest); a symlink where a file should be;
- an entry edited (its hash no longer matches), removed (a gap in seq), reordered,
  duplicated, or its link broken;
- entries cut off the end or appended after signing (the signed count and head disagree),
  a signature that does not verify, a key other than the one you trust.

An unsigned tail is unavoidable after a crash: entries after the last checkpoint signature
are checked for consistency but could have been rewritten by someone with write access;
the report says how many entries the signature covers.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .manifest import (
    FORMAT,
    GENESIS_HASH,
    MANIFEST_NAME,
    PUBLIC_KEY_NAME,
    SIGNATURE_NAME,
    SIGNATURE_TEMP_NAME,
    EntryType,
    ManifestLine,
    entry_hash,
    read_manifest,
    read_signature,
    sha256_file,
    signature_message,
)
from .paths import is_safe_relative_path
from .segments import PART_SUFFIX
from .signing import (
    key_fingerprint,
    load_public_key,
    public_key_pem,
    public_key_raw,
    signature_valid,
)

_KNOWN_FILES = frozenset({MANIFEST_NAME, SIGNATURE_NAME, PUBLIC_KEY_NAME})


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class ProblemKind(StrEnum):
    # the manifest
    MANIFEST_MISSING = "manifest_missing"
    MALFORMED_ENTRY = "malformed_entry"
    TORN_ENTRY = "torn_entry"  # last line incomplete: a crash while writing it
    ENTRY_ALTERED = "entry_altered"  # stored hash != hash of contents
    BROKEN_LINK = "broken_link"  # prev_hash != hash of the entry before
    ENTRIES_MISSING = "entries_missing"  # seq gap
    OUT_OF_ORDER = "out_of_order"
    DUPLICATE_ENTRY = "duplicate_entry"
    BAD_ENTRY = "bad_entry"  # well-formed and chained but its content makes no sense
    # the signature
    NOT_FINALIZED = "not_finalized"  # "unsigned": the recording did not stop cleanly
    SIGNATURE_MISSING = "signature_missing"  # stopped, yet no final signature
    SIGNATURE_MALFORMED = "signature_malformed"
    SIGNATURE_INVALID = "signature_invalid"
    SIGNATURE_MISMATCH = "signature_mismatch"  # signed count/head/ids differ from the chain
    UNTRUSTED_KEY = "untrusted_key"
    PUBLIC_KEY_MISMATCH = "public_key_mismatch"  # public_key.pem differs / is missing
    # the files
    FILE_MISSING = "file_missing"
    FILE_ALTERED = "file_altered"
    FILE_NOT_RENAMED = "file_not_renamed"  # listed, but still under its .part name (crash)
    EXTRA_FILE = "extra_file"
    UNFINISHED_SEGMENT = "unfinished_segment"  # a .part file: the segment a crash cut off
    UNSAFE_PATH = "unsafe_path"


@dataclass(frozen=True, slots=True)
class Problem:
    kind: ProblemKind
    severity: Severity
    message: str
    path: str | None = None  # relative to the recording directory
    seq: int | None = None  # the manifest entry concerned

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.seq is not None:
            where.append(f"entry {self.seq}")
        prefix = f"{' '.join(where)}: " if where else ""
        return f"{self.severity.value}: {prefix}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "message": self.message,
            "path": self.path,
            "seq": self.seq,
        }


class Status(StrEnum):
    OK = "ok"  # intact and finally signed
    UNSIGNED = "unsigned"  # intact, but the recording never stopped cleanly
    FAILED = "failed"  # something was altered, removed, added or is unreadable


@dataclass(slots=True)
class VerifyReport:
    directory: Path
    status: Status = Status.FAILED
    problems: list[Problem] = field(default_factory=list)
    hearing_id: str | None = None
    recording_id: str | None = None
    entries: int = 0
    segments: int = 0
    segments_intact: int = 0
    incomplete_segments: int = 0
    tracks: int = 0
    losses: int = 0
    signed_entries: int = 0
    final: bool = False
    key_fingerprint: str | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "status": self.status.value,
            "hearing_id": self.hearing_id,
            "recording_id": self.recording_id,
            "entries": self.entries,
            "segments": self.segments,
            "segments_intact": self.segments_intact,
            "incomplete_segments": self.incomplete_segments,
            "tracks": self.tracks,
            "losses": self.losses,
            "signed_entries": self.signed_entries,
            "final": self.final,
            "key_fingerprint": self.key_fingerprint,
            "problems": [p.to_dict() for p in self.problems],
        }


def verify_recording(
    directory: Path | str, *, public_key: Ed25519PublicKey | None = None
) -> list[Problem]:
    """Every problem with a recording directory; empty when it is intact and signed.

    An intact recording that never stopped cleanly gives exactly one warning,
    ``not_finalized`` ("unsigned: N segments intact ..."), plus a ``unfinished_segment``
    warning per ``.part`` file the crash left. ``public_key``: the server's published key;
    without it the key in ``manifest.sig`` is used and only its fingerprint is reported.
    """
    return inspect_recording(directory, public_key=public_key).problems


def inspect_recording(
    directory: Path | str, *, public_key: Ed25519PublicKey | None = None
) -> VerifyReport:
    """The full verification report of one recording directory."""
    return _Verifier(Path(directory), public_key).run()


class _Verifier:
    def __init__(self, directory: Path, trusted: Ed25519PublicKey | None) -> None:
        self.dir = directory
        self.trusted = trusted
        self.report = VerifyReport(directory=directory)

    def problem(
        self,
        kind: ProblemKind,
        message: str,
        *,
        path: str | None = None,
        seq: int | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        self.report.problems.append(Problem(kind, severity, message, path, seq))

    def run(self) -> VerifyReport:
        rep = self.report
        manifest_path = self.dir / MANIFEST_NAME
        if not manifest_path.is_file() or manifest_path.is_symlink():
            self.problem(
                ProblemKind.MANIFEST_MISSING,
                f"no {MANIFEST_NAME}: not a recording directory, or its manifest was removed",
                path=MANIFEST_NAME,
            )
            rep.status = Status.FAILED
            return rep
        sig = self._read_signature()
        final = bool(sig and sig["final"])
        lines = read_manifest(manifest_path)
        entries = self._check_lines(lines, final)
        by_seq = self._check_chain(entries)
        rep.entries = len(entries)
        self._check_content(entries)
        self._check_signature(sig, by_seq, entries)
        referenced = self._check_files(entries)
        self._check_extra(referenced)
        self._finish(sig)
        return rep

    # -- manifest lines and chain -------------------------------------------------------

    def _check_lines(self, lines: list[ManifestLine], final: bool) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        for line in lines:
            if line.entry is not None:
                entries.append(line.entry)
                continue
            if line.torn and not final:
                self.problem(
                    ProblemKind.TORN_ENTRY,
                    f"line {line.number} is incomplete ({len(line.raw)} bytes, no newline): "
                    "the recording stopped while writing it; the entry is not part of the "
                    "record",
                    path=MANIFEST_NAME,
                    severity=Severity.WARNING,
                )
                continue
            self.problem(
                ProblemKind.MALFORMED_ENTRY,
                f"line {line.number} is not a valid entry: {line.error}",
                path=MANIFEST_NAME,
            )
        return entries

    def _check_chain(self, entries: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
        for e in entries:
            try:
                actual = entry_hash(e)
            except (TypeError, ValueError) as exc:
                self.problem(
                    ProblemKind.MALFORMED_ENTRY,
                    f"cannot be hashed: {exc}",
                    path=MANIFEST_NAME,
                    seq=e["seq"],
                )
                continue
            if actual != e["hash"]:
                self.problem(
                    ProblemKind.ENTRY_ALTERED,
                    f"the {e['type']!r} entry was edited: its stored hash "
                    f"{e['hash'][:16]}... does not match its contents ({actual[:16]}...)",
                    path=MANIFEST_NAME,
                    seq=e["seq"],
                )
        seen: set[int] = set()
        last = 0
        for e in entries:
            seq = e["seq"]
            if seq in seen:
                self.problem(
                    ProblemKind.DUPLICATE_ENTRY,
                    "appears more than once",
                    path=MANIFEST_NAME,
                    seq=seq,
                )
                continue
            if seq < last:
                self.problem(
                    ProblemKind.OUT_OF_ORDER,
                    f"comes after entry {last}: entries were reordered",
                    path=MANIFEST_NAME,
                    seq=seq,
                )
            seen.add(seq)
            last = max(last, seq)
        by_seq: dict[int, dict[str, Any]] = {}
        for e in entries:
            by_seq.setdefault(e["seq"], e)
        for seq in sorted(by_seq):
            e = by_seq[seq]
            if seq == 1:
                if e["prev_hash"] != GENESIS_HASH:
                    self.problem(
                        ProblemKind.BROKEN_LINK,
                        "the first entry's prev_hash is not the genesis hash",
                        path=MANIFEST_NAME,
                        seq=seq,
                    )
            elif seq - 1 in by_seq:
                if e["prev_hash"] != by_seq[seq - 1]["hash"]:
                    self.problem(
                        ProblemKind.BROKEN_LINK,
                        f"prev_hash does not match the hash of entry {seq - 1}: that entry "
                        "was replaced, or this one's prev_hash was edited",
                        path=MANIFEST_NAME,
                        seq=seq,
                    )
            else:
                first = max((s for s in by_seq if s < seq), default=0) + 1
                span = f"entry {first} is" if first == seq - 1 else f"entries {first}-{seq - 1} are"
                self.problem(
                    ProblemKind.ENTRIES_MISSING,
                    f"{span} missing before it: removed from the manifest",
                    path=MANIFEST_NAME,
                    seq=seq,
                )
        return by_seq

    def _check_content(self, entries: list[dict[str, Any]]) -> None:
        rep = self.report
        first = next((e for e in entries if e["seq"] == 1), None)
        if first is not None:
            data = first["data"]
            if first["type"] != EntryType.RECORDING_STARTED or data.get("format") != FORMAT:
                self.problem(
                    ProblemKind.BAD_ENTRY,
                    f"entry 1 must be a {EntryType.RECORDING_STARTED.value!r} entry of format "
                    f"{FORMAT!r}",
                    path=MANIFEST_NAME,
                    seq=1,
                )
            rep.hearing_id = _str_or_none(data.get("hearing_id"))
            rep.recording_id = _str_or_none(data.get("recording_id"))
        types = Counter(e["type"] for e in entries)
        known = {t.value for t in EntryType}
        for e in entries:
            if e["type"] not in known:
                self.problem(
                    ProblemKind.BAD_ENTRY,
                    f"unknown entry type {e['type']!r}",
                    path=MANIFEST_NAME,
                    seq=e["seq"],
                )
        rep.tracks = len(
            {e["data"].get("track") for e in entries if e["type"] == EntryType.TRACK_STARTED}
        )
        rep.losses = types.get(EntryType.LOSS.value, 0)

    # -- signature ----------------------------------------------------------------------

    def _read_signature(self) -> dict[str, Any] | None:
        path = self.dir / SIGNATURE_NAME
        if not path.exists():
            return None
        if path.is_symlink() or not path.is_file():
            self.problem(ProblemKind.UNSAFE_PATH, "is not a regular file", path=SIGNATURE_NAME)
            return None
        sig, error = read_signature(path)
        if sig is None:
            self.problem(
                ProblemKind.SIGNATURE_MALFORMED,
                f"cannot be read: {error}",
                path=SIGNATURE_NAME,
            )
            return None
        try:
            raw = base64.b64decode(sig["public_key"], validate=True)
            key = Ed25519PublicKey.from_public_bytes(raw)
            signature = base64.b64decode(sig["signature"], validate=True)
        except (ValueError, binascii.Error) as exc:
            self.problem(
                ProblemKind.SIGNATURE_MALFORMED,
                f"holds an unreadable key or signature: {exc}",
                path=SIGNATURE_NAME,
            )
            return None
        if not signature_valid(key, signature, signature_message(sig)):
            self.problem(
                ProblemKind.SIGNATURE_INVALID,
                "the signature does not verify: the signature file was edited",
                path=SIGNATURE_NAME,
            )
            return None
        self.report.key_fingerprint = key_fingerprint(key)
        if sig.get("key_fingerprint") not in (None, self.report.key_fingerprint):
            self.problem(
                ProblemKind.SIGNATURE_MALFORMED,
                "its key_fingerprint does not belong to its public_key",
                path=SIGNATURE_NAME,
            )
        if self.trusted is not None and public_key_raw(self.trusted) != raw:
            self.problem(
                ProblemKind.UNTRUSTED_KEY,
                f"signed with key {self.report.key_fingerprint}, not the trusted key "
                f"{key_fingerprint(self.trusted)}",
                path=SIGNATURE_NAME,
            )
        self._check_public_key_file(raw)
        return sig

    def _check_public_key_file(self, raw: bytes) -> None:
        path = self.dir / PUBLIC_KEY_NAME
        if not path.is_file() or path.is_symlink():
            self.problem(
                ProblemKind.PUBLIC_KEY_MISMATCH,
                "is missing (it should hold the signing key's public half)",
                path=PUBLIC_KEY_NAME,
            )
            return
        data = path.read_bytes()
        if data == public_key_pem(Ed25519PublicKey.from_public_bytes(raw)):
            return
        try:
            key = load_public_key(data)
        except ValueError as exc:
            self.problem(
                ProblemKind.PUBLIC_KEY_MISMATCH, f"cannot be read: {exc}", path=PUBLIC_KEY_NAME
            )
            return
        detail = (
            f"holds key {key_fingerprint(key)}, but the manifest was signed with "
            f"{self.report.key_fingerprint}"
            if public_key_raw(key) != raw
            else "holds the signing key, but not byte for byte as written: it was edited"
        )
        self.problem(ProblemKind.PUBLIC_KEY_MISMATCH, detail, path=PUBLIC_KEY_NAME)

    def _check_signature(
        self,
        sig: dict[str, Any] | None,
        by_seq: dict[int, dict[str, Any]],
        entries: list[dict[str, Any]],
    ) -> None:
        rep = self.report
        top = max(by_seq, default=0)
        stopped = [e for e in entries if e["type"] == EntryType.RECORDING_STOPPED]
        if sig is None:
            if stopped and not (self.dir / SIGNATURE_NAME).exists():
                self.problem(
                    ProblemKind.SIGNATURE_MISSING,
                    f"the recording was stopped (entry {stopped[0]['seq']}) but "
                    f"{SIGNATURE_NAME} is missing: it was removed",
                    path=SIGNATURE_NAME,
                )
            return
        rep.final = sig["final"]
        signed = sig["entries"]
        rep.signed_entries = signed
        for name, value in (("hearing_id", rep.hearing_id), ("recording_id", rep.recording_id)):
            if value is not None and sig[name] != value:
                self.problem(
                    ProblemKind.SIGNATURE_MISMATCH,
                    f"signs {name} {sig[name]!r}, but the manifest is of {value!r}: the "
                    "signature belongs to another recording",
                    path=SIGNATURE_NAME,
                )
        head: str | None
        if signed == 0:
            head = GENESIS_HASH
        else:
            entry = by_seq.get(signed)
            head = entry["hash"] if entry is not None else None
        if head is None:
            self.problem(
                ProblemKind.SIGNATURE_MISMATCH,
                f"signs {signed} entries but the manifest ends at entry {top}: entries were "
                "cut off the end",
                path=MANIFEST_NAME,
            )
        elif head != sig["head_hash"]:
            self.problem(
                ProblemKind.SIGNATURE_MISMATCH,
                f"entry {signed} has hash {head[:16]}..., but the signature covers "
                f"{sig['head_hash'][:16]}...: the manifest was rewritten after signing",
                path=MANIFEST_NAME,
                seq=signed,
            )
        if sig["final"] and top > signed:
            self.problem(
                ProblemKind.SIGNATURE_MISMATCH,
                f"entries {signed + 1}-{top} were added after the final signature",
                path=MANIFEST_NAME,
            )
        if sig["final"] and not stopped:
            self.problem(
                ProblemKind.BAD_ENTRY,
                "the final signature covers no 'recording_stopped' entry",
                path=MANIFEST_NAME,
            )

    # -- files --------------------------------------------------------------------------

    def _check_files(self, entries: list[dict[str, Any]]) -> set[str]:
        rep = self.report
        referenced: set[str] = set()
        for e in entries:
            if e["type"] != EntryType.SEGMENT:
                continue
            data = e["data"]
            seq = e["seq"]
            rel = data.get("file")
            rep.segments += 1
            if data.get("complete") is False:
                rep.incomplete_segments += 1
            if not isinstance(rel, str) or not is_safe_relative_path(rel):
                self.problem(
                    ProblemKind.UNSAFE_PATH,
                    f"names the file {rel!r}, which is not a plain path inside the recording",
                    seq=seq,
                    path=MANIFEST_NAME,
                )
                continue
            if rel in referenced:
                self.problem(
                    ProblemKind.DUPLICATE_ENTRY,
                    "lists a file another entry already lists",
                    path=rel,
                    seq=seq,
                )
                continue
            referenced.add(rel)
            expected, size = data.get("sha256"), data.get("bytes")
            path = self.dir / rel
            if path.is_symlink() or (path.exists() and not path.is_file()):
                self.problem(ProblemKind.UNSAFE_PATH, "is not a regular file", path=rel, seq=seq)
                continue
            if not path.exists():
                part = path.with_name(path.name + PART_SUFFIX)
                if part.is_file() and not part.is_symlink() and _hash(part)[0] == expected:
                    referenced.add(rel + PART_SUFFIX)
                    rep.segments_intact += 1
                    self.problem(
                        ProblemKind.FILE_NOT_RENAMED,
                        f"is intact but still named {part.name}: the recording stopped "
                        "between listing and renaming it",
                        path=rel,
                        seq=seq,
                        severity=Severity.WARNING,
                    )
                    continue
                self.problem(
                    ProblemKind.FILE_MISSING,
                    f"segment {data.get('index')} of track {data.get('track')} is missing: "
                    "the file was removed",
                    path=rel,
                    seq=seq,
                )
                continue
            actual, actual_size = _hash(path)
            if actual != expected:
                detail = (
                    f"{actual_size} bytes instead of {size}"
                    if actual_size != size
                    else f"same size ({size} bytes), different content"
                )
                self.problem(
                    ProblemKind.FILE_ALTERED,
                    f"SHA-256 is {actual[:16]}..., the manifest says "
                    f"{str(expected)[:16]}...: the file was altered ({detail})",
                    path=rel,
                    seq=seq,
                )
                continue
            rep.segments_intact += 1
        return referenced

    def _check_extra(self, referenced: set[str]) -> None:
        for current, dirs, files in os.walk(self.dir, followlinks=False):
            base = Path(current)
            for d in list(dirs):
                if (base / d).is_symlink():
                    rel = (base / d).relative_to(self.dir).as_posix()
                    self.problem(ProblemKind.UNSAFE_PATH, "is a symbolic link", path=rel)
                    dirs.remove(d)
            for name in files:
                rel = (base / name).relative_to(self.dir).as_posix()
                if rel in referenced or rel in _KNOWN_FILES:
                    continue
                if rel == SIGNATURE_TEMP_NAME:
                    self.problem(
                        ProblemKind.UNFINISHED_SEGMENT,
                        "a signature that was being written when the recording stopped",
                        path=rel,
                        severity=Severity.WARNING,
                    )
                elif rel.endswith(PART_SUFFIX) and "/" in rel:
                    self.problem(
                        ProblemKind.UNFINISHED_SEGMENT,
                        "an unfinished segment (the recording stopped while writing it); "
                        "not part of the record",
                        path=rel,
                        severity=Severity.WARNING,
                    )
                else:
                    self.problem(
                        ProblemKind.EXTRA_FILE,
                        "is not listed in the manifest: it was added, or its entry removed",
                        path=rel,
                    )

    # -- verdict ------------------------------------------------------------------------

    def _finish(self, sig: dict[str, Any] | None) -> None:
        rep = self.report
        if rep.errors:
            rep.status = Status.FAILED
            return
        if sig is not None and sig["final"]:
            rep.status = Status.OK
            return
        rep.status = Status.UNSIGNED
        covered = (
            f"entries 1-{rep.signed_entries} are covered by a checkpoint signature"
            if rep.signed_entries
            else "no entry is covered by a signature"
        )
        tail = (
            f", entries {rep.signed_entries + 1}-{rep.entries} are not"
            if rep.entries > rep.signed_entries
            else ""
        )
        self.report.problems.insert(
            0,
            Problem(
                ProblemKind.NOT_FINALIZED,
                Severity.WARNING,
                f"unsigned: {rep.segments_intact} segments intact; the recording did not stop "
                f"cleanly, so there is no final signature ({covered}{tail})",
                path=SIGNATURE_NAME,
            ),
        )


def _hash(path: Path) -> tuple[str, int]:
    try:
        return sha256_file(path)
    except OSError:
        return "unreadable", -1


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
