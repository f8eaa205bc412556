"""Reference photos and their face encodings: files under the data directory, owner-only.

``<root>/<hearing_id>/<participant_id>.photo`` (the uploaded JPEG or PNG, byte for byte) and
``<participant_id>.encoding.json`` (its 128-d face encoding). Directories are 0700 and files
0600; nothing else keeps biometric data (live frames are never stored), so deleting a
hearing's directory deletes all of it. Blocking file work: call through ``asyncio.to_thread``
from the event loop (the service does).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"not an id: {value!r}")
    return value


class BiometricFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, hearing_id: str) -> Path:
        return self.root / _check_id(hearing_id)

    def _ensure(self, path: Path) -> None:
        for d in (self.root, path):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(d, 0o700)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        partial = path.with_name(path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, path)

    def put(
        self, hearing_id: str, participant_id: str, photo: bytes, encoding: list[float]
    ) -> None:
        d = self._dir(hearing_id)
        self._ensure(d)
        pid = _check_id(participant_id)
        self._write(d / f"{pid}.photo", photo)
        self._write(d / f"{pid}.encoding.json", json.dumps(encoding).encode())

    def encoding(self, hearing_id: str, participant_id: str) -> list[float] | None:
        path = self._dir(hearing_id) / f"{_check_id(participant_id)}.encoding.json"
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        return [float(v) for v in data]

    def has(self, hearing_id: str, participant_id: str) -> bool:
        return (self._dir(hearing_id) / f"{_check_id(participant_id)}.encoding.json").exists()

    def delete(self, hearing_id: str, participant_id: str) -> bool:
        found = False
        for suffix in (".photo", ".encoding.json"):
            path = self._dir(hearing_id) / f"{_check_id(participant_id)}{suffix}"
            try:
                path.unlink()
                found = True
            except FileNotFoundError:
                pass
        return found

    def hearings(self) -> list[str]:
        """The hearings that hold biometric data."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _ID.match(p.name))

    def delete_hearing(self, hearing_id: str) -> int:
        """Delete every file of ``hearing_id``; returns how many there were."""
        d = self._dir(hearing_id)
        if not d.is_dir():
            return 0
        count = sum(1 for p in d.iterdir() if p.is_file())
        shutil.rmtree(d)
        return count
