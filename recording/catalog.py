"""Finding recordings on disk for the HTTP routes: listing, and resolving a download safely.

The catalog only reads (manifests and directory names); it never trusts a name from a
request as a path. :meth:`RecordingCatalog.resolve` returns a file only if the manifest
lists it (or it is one of the three manifest files), after checking every component and
that the real path stays inside the recording directory and is not a symlink. All methods
do blocking file I/O: call them through ``asyncio.to_thread`` from a handler.
"""

from __future__ import annotations

import builtins
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .manifest import (
    MANIFEST_NAME,
    PUBLIC_KEY_NAME,
    SIGNATURE_NAME,
    EntryType,
    read_manifest,
    read_signature,
)
from .paths import is_safe_name, is_safe_relative_path
from .verify import Problem, verify_recording

_MEDIA_TYPES = {
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".mka": "audio/x-matroska",
    ".mp4": "video/mp4",
    ".jsonl": "application/x-ndjson",
    ".sig": "application/json",
    ".pem": "application/x-pem-file",
}


class RecordingNotFound(LookupError):
    """No such hearing, recording or file (also for names that are not allowed at all,
    so that a probe learns nothing)."""


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    track: str
    index: int
    file: str  # relative to the recording directory
    media_type: str
    bytes: int
    sha256: str
    start_us: int  # on the hearing clock
    duration_us: int
    start_at: str
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "track": self.track,
            "index": self.index,
            "file": self.file,
            "media_type": self.media_type,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "start_us": self.start_us,
            "duration_us": self.duration_us,
            "start_at": self.start_at,
            "complete": self.complete,
        }


@dataclass(frozen=True, slots=True)
class TrackInfo:
    track: str
    pid: str
    kind: str  # audio | video | composite
    name: str
    role: str
    codecs: list[str]
    start_offset_us: int  # when the track's first frame arrived, on the hearing clock
    start_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "track": self.track,
            "pid": self.pid,
            "kind": self.kind,
            "name": self.name,
            "role": self.role,
            "codecs": list(self.codecs),
            "start_offset_us": self.start_offset_us,
            "start_at": self.start_at,
        }


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    hearing_id: str
    recording_id: str
    started_at: str | None
    stopped_at: str | None  # None: still recording, or it did not stop cleanly
    finalized: bool  # a final signature exists (not checked here: use verify)
    metadata: dict[str, Any]
    tracks: list[TrackInfo] = field(default_factory=list)
    segments: list[SegmentInfo] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(s.bytes for s in self.segments)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hearing_id": self.hearing_id,
            "recording_id": self.recording_id,
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
            "finalized": self.finalized,
            "metadata": dict(self.metadata),
            "total_bytes": self.total_bytes,
            "tracks": [t.to_dict() for t in self.tracks],
            "segments": [s.to_dict() for s in self.segments],
        }


def media_type(path: str) -> str:
    return _MEDIA_TYPES.get(os.path.splitext(path)[1].lower(), "application/octet-stream")


class RecordingCatalog:
    """The recordings under one root (``Settings.effective_recordings_dir``)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def list(self, hearing_id: str) -> list[RecordingInfo]:
        """Every recording of a hearing, oldest first; [] when there is none."""
        if not is_safe_name(hearing_id):
            return []
        base = self.root / hearing_id
        if not base.is_dir() or base.is_symlink():
            return []
        out = []
        for child in sorted(base.iterdir()):
            if (
                is_safe_name(child.name)
                and child.is_dir()
                and not child.is_symlink()
                and (child / MANIFEST_NAME).is_file()
            ):
                out.append(self._info(hearing_id, child))
        return out

    def get(self, hearing_id: str, recording_id: str) -> RecordingInfo:
        return self._info(hearing_id, self.recording_dir(hearing_id, recording_id))

    def recording_dir(self, hearing_id: str, recording_id: str) -> Path:
        """The directory of one recording; :class:`RecordingNotFound` if it does not exist
        or a name is not one we would have created."""
        if not is_safe_name(hearing_id) or not is_safe_name(recording_id):
            raise RecordingNotFound("no such recording")
        path = self.root / hearing_id / recording_id
        for p in (self.root / hearing_id, path):
            if p.is_symlink() or not p.is_dir():
                raise RecordingNotFound("no such recording")
        if not (path / MANIFEST_NAME).is_file():
            raise RecordingNotFound("no such recording")
        return path

    def resolve(self, hearing_id: str, recording_id: str, file: str) -> Path:
        """The path of a file of a recording that may be sent to a client.

        ``file`` is as listed (``t001-video-x/00001.webm``) or one of ``manifest.jsonl``,
        ``manifest.sig``, ``public_key.pem``. Anything else, any traversal, symlink or
        file outside the recording raises :class:`RecordingNotFound`.
        """
        directory = self.recording_dir(hearing_id, recording_id)
        if not isinstance(file, str) or not is_safe_relative_path(file):
            raise RecordingNotFound("no such file")
        allowed = {MANIFEST_NAME, SIGNATURE_NAME, PUBLIC_KEY_NAME}
        if file not in allowed:
            allowed |= {s.file for s in self._info(hearing_id, directory).segments}
        if file not in allowed:
            raise RecordingNotFound("no such file")
        path = directory / file
        real_dir = os.path.realpath(directory)
        real = os.path.realpath(path)
        if os.path.commonpath([real_dir, real]) != real_dir or real != os.path.join(
            real_dir, *file.split("/")
        ):
            raise RecordingNotFound("no such file")
        if path.is_symlink() or not path.is_file():
            raise RecordingNotFound("no such file")
        return path

    def verify(
        self, hearing_id: str, recording_id: str, *, public_key: Ed25519PublicKey | None = None
    ) -> builtins.list[Problem]:
        return verify_recording(self.recording_dir(hearing_id, recording_id), public_key=public_key)

    # -- internals --------------------------------------------------------------------

    def _info(self, hearing_id: str, directory: Path) -> RecordingInfo:
        started = stopped = None
        metadata: dict[str, Any] = {}
        tracks: dict[str, TrackInfo] = {}
        segments: list[SegmentInfo] = []
        for line in read_manifest(directory / MANIFEST_NAME):
            e = line.entry
            if e is None:
                continue
            data = e["data"]
            kind = e["type"]
            if kind == EntryType.RECORDING_STARTED:
                started = _s(data.get("started_at"))
                meta = data.get("metadata")
                metadata = meta if isinstance(meta, dict) else {}
            elif kind == EntryType.RECORDING_STOPPED:
                stopped = _s(data.get("stopped_at"))
            elif kind == EntryType.TRACK_STARTED:
                key = _s(data.get("track")) or "?"
                codec = _s(data.get("codec")) or "?"
                if key in tracks:
                    old = tracks[key]
                    tracks[key] = TrackInfo(
                        old.track, old.pid, old.kind, old.name, old.role,
                        [*old.codecs, codec], old.start_offset_us, old.start_at,
                    )  # fmt: skip
                else:
                    tracks[key] = TrackInfo(
                        track=key,
                        pid=_s(data.get("pid")) or "",
                        kind=_s(data.get("kind")) or "",
                        name=_s(data.get("name")) or "",
                        role=_s(data.get("role")) or "",
                        codecs=[codec],
                        start_offset_us=_i(data.get("start_offset_us")),
                        start_at=_s(data.get("start_at")) or "",
                    )
            elif kind == EntryType.SEGMENT:
                rel = data.get("file")
                if not isinstance(rel, str) or not is_safe_relative_path(rel):
                    continue
                segments.append(
                    SegmentInfo(
                        track=_s(data.get("track")) or "",
                        index=_i(data.get("index")),
                        file=rel,
                        media_type=_segment_media_type(rel, _s(data.get("kind"))),
                        bytes=_i(data.get("bytes")),
                        sha256=_s(data.get("sha256")) or "",
                        start_us=_i(data.get("start_us")),
                        duration_us=_i(data.get("duration_us")),
                        start_at=_s(data.get("start_at")) or "",
                        complete=data.get("complete") is not False,
                    )
                )
        sig_path = directory / SIGNATURE_NAME
        sig = read_signature(sig_path)[0] if sig_path.is_file() else None
        return RecordingInfo(
            hearing_id=hearing_id,
            recording_id=directory.name,
            started_at=started,
            stopped_at=stopped,
            finalized=bool(sig and sig["final"]),
            metadata=metadata,
            tracks=list(tracks.values()),
            segments=segments,
        )


def _segment_media_type(rel: str, kind: str | None) -> str:
    mt = media_type(rel)
    if kind == "audio" and mt == "video/webm":
        return "audio/webm"
    return mt


def _s(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _i(value: object) -> int:
    return value if type(value) is int else 0
