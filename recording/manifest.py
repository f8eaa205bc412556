"""The manifest of a recording: an append-only, hash-chained JSON-lines file, and its signature.

``manifest.jsonl`` holds one entry per line, each the canonical JSON (:func:`canonical_json`)
of ``{seq, type, at, data, prev_hash, hash}``. ``hash`` is the SHA-256 (hex) of the
canonical JSON of the other five fields; ``prev_hash`` is the previous entry's ``hash``
(:data:`GENESIS_HASH` for entry 1). Every entry is written with one ``write`` and then
``fsync``-ed, so after a crash every finished entry survives; at worst the last line is torn.

``manifest.sig`` (rewritten atomically after every entry, and a last time at stop) signs the
chain's head with the server's Ed25519 key: a *checkpoint* while recording, *final* after
``recording_stopped``. A recording that crashed therefore keeps a signature over everything
up to its last checkpoint, and verifies as "unsigned" (not finalized) rather than tampered.

Manifests hold no floats: times are integer microseconds (``*_us``) or ISO 8601 strings, so
that any language can reproduce the canonical encoding.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .clock import iso
from .signing import key_fingerprint, public_key_pem, public_key_raw

FORMAT = "hearing-recording/1"
SIGNATURE_FORMAT = "hearing-recording-signature/1"
MANIFEST_NAME = "manifest.jsonl"
SIGNATURE_NAME = "manifest.sig"
SIGNATURE_TEMP_NAME = "manifest.sig.tmp"
PUBLIC_KEY_NAME = "public_key.pem"
GENESIS_HASH = "0" * 64
HASHED_FIELDS = ("seq", "type", "at", "data", "prev_hash")
ENTRY_FIELDS = (*HASHED_FIELDS, "hash")
SIGNED_FIELDS = (
    "format",
    "algorithm",
    "hearing_id",
    "recording_id",
    "entries",
    "head_hash",
    "final",
    "signed_at",
    "public_key",
)


class EntryType(StrEnum):
    RECORDING_STARTED = "recording_started"
    TRACK_STARTED = "track_started"
    SEGMENT = "segment"
    LOSS = "loss"
    PAUSED = "paused"
    RESUMED = "resumed"
    TRACK_ENDED = "track_ended"
    RECORDING_STOPPED = "recording_stopped"


class ManifestError(Exception):
    """An entry could not be written; it is kept and written with the next one."""


class AfterWriteError(Exception):
    """The entry was written, but the action that follows it (a rename) failed."""


class SignatureError(Exception):
    """``manifest.sig`` could not be written."""


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8, no NaN: the bytes hashes and signatures cover."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_hash(entry: Mapping[str, Any]) -> str:
    """What ``entry["hash"]`` must be. Raises KeyError/TypeError/ValueError for bad entries."""
    return hashlib.sha256(canonical_json({k: entry[k] for k in HASHED_FIELDS})).hexdigest()


def signature_message(sig: Mapping[str, Any]) -> bytes:
    """The bytes the Ed25519 signature in ``manifest.sig`` covers."""
    return canonical_json({k: sig[k] for k in SIGNED_FIELDS})


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex SHA-256, size in bytes) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(slots=True)
class _Pending:
    type: str
    data: dict[str, Any]
    at: str
    after: Callable[[], None] | None


class ManifestWriter:
    """Appends entries to one recording's manifest and signs its head. Thread-safe.

    ``append`` writes the entry (and any earlier ones that failed) at once; if that fails
    the entry stays queued in memory, :class:`ManifestError` is raised, and the next
    ``append`` or ``flush`` tries again, so no entry is lost while the process lives.
    """

    def __init__(
        self,
        directory: Path,
        *,
        hearing_id: str,
        recording_id: str,
        signing_key: Ed25519PrivateKey,
    ) -> None:
        self.directory = directory
        self.hearing_id = hearing_id
        self.recording_id = recording_id
        self._key = signing_key
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._count = 0
        self._head = GENESIS_HASH
        self._final = False
        self._failing = False
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MANIFEST_NAME
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        # Held while this writer lives (the kernel drops it when the process dies): whoever
        # would close an interrupted recording first checks that nobody still writes it.
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._size = 0
        (directory / PUBLIC_KEY_NAME).write_bytes(public_key_pem(signing_key))
        fsync_dir(directory)

    @classmethod
    def resume(
        cls,
        directory: Path,
        *,
        hearing_id: str,
        recording_id: str,
        signing_key: Ed25519PrivateKey,
        entries: int,
        head_hash: str,
        size: int,
    ) -> ManifestWriter:
        """Append to a manifest another process left unfinished (it crashed): its first
        ``size`` bytes hold ``entries`` intact entries ending at ``head_hash``; anything after
        them (a torn last line) is cut off, as it was never part of the record."""
        self = cls.__new__(cls)
        self.directory = directory
        self.hearing_id = hearing_id
        self.recording_id = recording_id
        self._key = signing_key
        self._lock = threading.Lock()
        self._pending = []
        self._count = entries
        self._head = head_hash
        self._final = False
        self._failing = False
        self._fd = os.open(directory / MANIFEST_NAME, os.O_WRONLY | os.O_APPEND)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: in use
            os.ftruncate(self._fd, size)
            os.fsync(self._fd)
        except OSError:
            os.close(self._fd)
            raise
        self._size = size
        return self

    @property
    def count(self) -> int:
        """Entries written so far."""
        return self._count

    @property
    def head_hash(self) -> str:
        return self._head

    @property
    def pending(self) -> int:
        """Entries waiting to be written because writing failed."""
        return len(self._pending)

    def append(
        self,
        entry_type: EntryType,
        data: Mapping[str, Any],
        *,
        at: datetime | None = None,
        after: Callable[[], None] | None = None,
    ) -> bool:
        """Queue one entry and write every queued entry; then sign a checkpoint.

        ``after`` runs once the entry is durable (used to give a finished segment its final
        name only when the manifest already lists it). Returns True when this call also
        wrote entries kept after an earlier failure (writing works again). Raises
        :class:`ManifestError` (entry kept for later), :class:`AfterWriteError` or
        :class:`SignatureError`.
        """
        stamp = iso(at or datetime.now(UTC))
        # Round-trip through JSON now, so a value JSON cannot hold fails here, loudly.
        copied = json.loads(canonical_json(dict(data)))
        with self._lock:
            if self._final:
                raise ManifestError("the manifest is final; nothing can be added")
            self._pending.append(_Pending(entry_type.value, copied, stamp, after))
            recovering = self._failing
            self._flush_locked()
            return recovering

    def flush(self) -> None:
        """Write entries kept after a failure (and sign); a no-op when none are waiting."""
        with self._lock:
            if self._pending:
                self._flush_locked()

    def sign(self, *, final: bool) -> None:
        """Write ``manifest.sig`` over the current head. ``final`` closes the manifest."""
        with self._lock:
            if self._pending:
                self._flush_locked()
            self._sign_locked(final=final)
            if final:
                self._final = True

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    # -- internals --------------------------------------------------------------------

    def _flush_locked(self) -> None:
        after_errors: list[str] = []
        while self._pending:
            item = self._pending[0]
            entry: dict[str, Any] = {
                "seq": self._count + 1,
                "type": item.type,
                "at": item.at,
                "data": item.data,
                "prev_hash": self._head,
            }
            entry["hash"] = entry_hash(entry)
            line = canonical_json(entry) + b"\n"
            try:
                self._write_line(line)
            except OSError as exc:
                # Leave no torn line behind: the next attempt rewrites the whole entry.
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)
                self._failing = True
                raise ManifestError(f"cannot write manifest entry: {exc}") from exc
            self._failing = False
            self._size += len(line)
            self._count += 1
            self._head = entry["hash"]
            self._pending.pop(0)
            if item.after is not None:
                try:
                    item.after()
                except OSError as exc:
                    after_errors.append(str(exc))
        try:
            self._sign_locked(final=False)
        finally:
            if after_errors:
                raise AfterWriteError("; ".join(after_errors))

    def _write_line(self, line: bytes) -> None:
        view = memoryview(line)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fsync(self._fd)

    def _sign_locked(self, *, final: bool) -> None:
        pub = self._key.public_key()
        sig: dict[str, Any] = {
            "format": SIGNATURE_FORMAT,
            "algorithm": "Ed25519",
            "hearing_id": self.hearing_id,
            "recording_id": self.recording_id,
            "entries": self._count,
            "head_hash": self._head,
            "final": final,
            "signed_at": iso(datetime.now(UTC)),
            "public_key": base64.b64encode(public_key_raw(pub)).decode("ascii"),
        }
        sig["key_fingerprint"] = key_fingerprint(pub)
        sig["signature"] = base64.b64encode(self._key.sign(signature_message(sig))).decode("ascii")
        body = json.dumps(sig, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        tmp = self.directory / SIGNATURE_TEMP_NAME
        try:
            with tmp.open("wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.directory / SIGNATURE_NAME)
            fsync_dir(self.directory)
        except OSError as exc:
            raise SignatureError(f"cannot write {SIGNATURE_NAME}: {exc}") from exc


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ManifestLine:
    """One line of a manifest as found on disk.

    ``entry`` is the parsed entry when the line is a JSON object with the right fields of
    the right types, else None and ``error`` says why. ``torn``: the file's last line has
    no newline (a crash while writing it, or a cut).
    """

    number: int
    raw: bytes
    entry: dict[str, Any] | None
    error: str | None
    torn: bool


def read_manifest(path: Path) -> list[ManifestLine]:
    """Every line of a manifest file (empty lines are reported as malformed)."""
    data = path.read_bytes()
    if not data:
        return []
    pieces = data.split(b"\n")
    torn_last = pieces[-1] != b""
    if not torn_last:
        pieces.pop()
    out: list[ManifestLine] = []
    for i, raw in enumerate(pieces):
        torn = torn_last and i == len(pieces) - 1
        entry, error = _parse_line(raw)
        out.append(ManifestLine(i + 1, raw, entry, error, torn))
    return out


def _parse_line(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"not JSON ({exc})"
    if not isinstance(value, dict):
        return None, "not a JSON object"
    missing = [k for k in ENTRY_FIELDS if k not in value]
    if missing:
        return None, f"lacks {', '.join(missing)}"
    extra = sorted(set(value) - set(ENTRY_FIELDS))
    if extra:
        return None, f"has unknown fields {', '.join(extra)}"
    if type(value["seq"]) is not int or value["seq"] < 1:
        return None, f"seq {value['seq']!r} is not a positive integer"
    for name in ("type", "at", "prev_hash", "hash"):
        if not isinstance(value[name], str):
            return None, f"{name} is not a string"
    if not isinstance(value["data"], dict):
        return None, "data is not an object"
    return value, None


def read_signature(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """``manifest.sig`` parsed and type-checked, or (None, why not)."""
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"not JSON ({exc})"
    if not isinstance(value, dict):
        return None, "not a JSON object"
    expected: dict[str, type] = {
        "format": str,
        "algorithm": str,
        "hearing_id": str,
        "recording_id": str,
        "entries": int,
        "head_hash": str,
        "final": bool,
        "signed_at": str,
        "public_key": str,
        "signature": str,
    }
    for name, kind in expected.items():
        if name not in value:
            return None, f"lacks {name}"
        if type(value[name]) is not kind:
            return None, f"{name} is not a {kind.__name__}"
    if value["format"] != SIGNATURE_FORMAT or value["algorithm"] != "Ed25519":
        return None, f"unknown format {value['format']!r} / algorithm {value['algorithm']!r}"
    return value, None
