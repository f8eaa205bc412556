"""Resumable uploads and the sealed exhibit files.

An upload is announced with its size, then its bytes arrive in any number of pieces, each
starting where the stored part ends (a phone that loses its line asks how much arrived and
sends the rest). Pieces stream to disk: a 200 MB file is never held in memory. When every
byte is there, :meth:`ExhibitFiles.seal` hashes the file and moves it, read-only, to where the
sealed files live; nothing of ours writes to a sealed file again.

Every name on disk is made by the server (random hex ids): the uploader's file name is kept
only as metadata, so no name can reach outside the directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ID = re.compile(r"^[0-9a-f]{32}$")
_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HASH_CHUNK = 1024 * 1024


class UploadError(Exception):
    """An upload step that cannot be done; ``code`` says why in one word."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class UploadState:
    """Where an upload stands: ``offset`` bytes of ``size`` are stored."""

    upload_id: str
    size: int
    offset: int
    meta: dict[str, Any]

    @property
    def complete(self) -> bool:
        return self.offset == self.size


def new_id() -> str:
    """A fresh random id (32 hex digits) for an upload or a sealed file."""
    return secrets.token_hex(16)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in pieces (blocking)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ExhibitFiles:
    """The upload staging area and the sealed files under ``root``."""

    def __init__(self, root: Path) -> None:
        self._uploads = root / "uploads"
        self._sealed = root / "files"
        self._locks: dict[str, asyncio.Lock] = {}

    def _part(self, upload_id: str) -> Path:
        if not _ID.match(upload_id):
            raise UploadError("upload_not_found", f"no upload {upload_id!r}")
        return self._uploads / f"{upload_id}.part"

    def begin(self, size: int, meta: dict[str, Any]) -> UploadState:
        """Announce an upload of ``size`` bytes; ``meta`` (JSON) is kept beside it."""
        if size < 1:
            raise UploadError("empty_file", "the file is empty")
        self._uploads.mkdir(parents=True, exist_ok=True)
        upload_id = new_id()
        part = self._part(upload_id)
        part.touch(exist_ok=False)
        sidecar = {"size": size, "meta": meta, "created": time.time()}
        part.with_suffix(".json").write_text(json.dumps(sidecar), encoding="utf-8")
        return UploadState(upload_id, size, 0, meta)

    def staged_path(self, upload_id: str) -> Path:
        """Where an upload's bytes are staged (checked in place before sealing)."""
        return self._part(upload_id)

    def state(self, upload_id: str) -> UploadState:
        """Where ``upload_id`` stands. Raises :class:`UploadError` if there is no such upload."""
        part = self._part(upload_id)
        try:
            sidecar = json.loads(part.with_suffix(".json").read_text(encoding="utf-8"))
            offset = part.stat().st_size
        except (OSError, ValueError):
            raise UploadError("upload_not_found", f"no upload {upload_id!r}") from None
        return UploadState(upload_id, int(sidecar["size"]), offset, dict(sidecar["meta"]))

    async def append(
        self, upload_id: str, offset: int, chunks: AsyncIterable[bytes]
    ) -> UploadState:
        """Store the bytes of ``chunks`` from ``offset``, which must be where the stored part
        ends. What arrived before a broken connection stays stored; bytes past the announced
        size are refused (nothing past it is written)."""
        # One writer per upload: two connections resuming at once must not interleave.
        async with self._locks.setdefault(upload_id, asyncio.Lock()):
            state = self.state(upload_id)
            if offset != state.offset:
                raise UploadError(
                    "offset_mismatch",
                    f"the upload has {state.offset} bytes; send from there, not {offset}",
                )
            written = state.offset
            with self._part(upload_id).open("ab") as f:
                async for chunk in chunks:
                    if written + len(chunk) > state.size:
                        f.write(chunk[: state.size - written])
                        raise UploadError(
                            "too_large", f"the upload was announced as {state.size} bytes"
                        )
                    f.write(chunk)
                    written += len(chunk)
            return self.state(upload_id)

    def seal(self, upload_id: str, folder: str) -> tuple[str, Path, str]:
        """Move a complete upload into ``folder`` of the sealed files, read-only: returns the
        file's id, its path and its SHA-256 (blocking: it reads the whole file)."""
        if not _SAFE.match(folder):
            raise UploadError("bad_folder", f"not a folder name: {folder!r}")
        state = self.state(upload_id)
        if not state.complete:
            raise UploadError("incomplete", f"the upload has {state.offset} of {state.size} bytes")
        part = self._part(upload_id)
        digest = sha256_of(part)
        target_dir = self._sealed / folder
        target_dir.mkdir(parents=True, exist_ok=True)
        file_id = new_id()
        target = target_dir / file_id
        part.chmod(0o444)
        os.replace(part, target)
        self._locks.pop(upload_id, None)
        with contextlib.suppress(OSError):
            part.with_suffix(".json").unlink()
        return file_id, target, digest

    def discard(self, upload_id: str) -> None:
        """Forget an upload and its bytes (a refused file, an abandoned upload)."""
        part = self._part(upload_id)
        self._locks.pop(upload_id, None)
        for path in (part, part.with_suffix(".json")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def open_uploads(self, key: str, value: str) -> int:
        """How many unsealed uploads have ``meta[key] == value`` (e.g. one person's)."""
        if not self._uploads.is_dir():
            return 0
        count = 0
        for sidecar in self._uploads.glob("*.json"):
            try:
                meta = json.loads(sidecar.read_text(encoding="utf-8"))["meta"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            count += meta.get(key) == value
        return count

    def discard_older_than(self, age_s: float) -> list[str]:
        """Forget uploads started more than ``age_s`` seconds ago and never sealed."""
        gone: list[str] = []
        if not self._uploads.is_dir():
            return gone
        cutoff = time.time() - age_s
        for sidecar in self._uploads.glob("*.json"):
            try:
                created = float(json.loads(sidecar.read_text(encoding="utf-8"))["created"])
            except (OSError, ValueError, KeyError, TypeError):
                created = 0.0
            if created < cutoff and _ID.match(sidecar.stem):
                self.discard(sidecar.stem)
                gone.append(sidecar.stem)
        return gone

    def path_of(self, folder: str, file_id: str) -> Path:
        """Where a sealed file is (it may have gone missing: the caller checks)."""
        if not _SAFE.match(folder) or not _ID.match(file_id):
            raise UploadError("file_not_found", "no such file")
        return self._sealed / folder / file_id
