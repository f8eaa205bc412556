"""The files of served documents: one owner-only file per document, written whole."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from hearing_server.core.errors import NotFound

_ID = re.compile(r"^doc-[0-9a-f]{16}$")


class ServedFiles:
    """Documents' bytes under ``directory`` (created owner-only), named by document id."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory

    def _path(self, document_id: str) -> Path:
        if not _ID.match(document_id):  # ids are ours; anything else is not a file name
            raise NotFound(f"no document {document_id}")
        return self._dir / f"{document_id}.pdf"

    async def write(self, document_id: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, self._path(document_id), data)

    def _write(self, path: Path, data: bytes) -> None:
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    async def read(self, document_id: str) -> bytes:
        path = self._path(document_id)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFound(f"the file of document {document_id} is missing") from None
