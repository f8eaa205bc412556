"""The outbox: every message becomes one JSON file in a directory, readable by the operator.

The files hold the message text (one-time codes included), so they are created owner-only
(0600) in an owner-only directory, like the server's keys.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .base import Message, Receipt, SendError


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One message in the outbox."""

    id: str
    at: datetime
    recipient: str
    subject: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "recipient": self.recipient,
            "subject": self.subject,
            "text": self.text,
        }


def _now() -> datetime:
    return datetime.now(UTC)


class OutboxSender:
    """Writes each message to ``directory`` as ``<time>-<random>.json``."""

    name = "outbox"

    def __init__(self, directory: Path, *, clock: Callable[[], datetime] = _now) -> None:
        self._dir = directory
        self._now = clock

    async def send(self, message: Message) -> Receipt:
        at = self._now()
        entry_id = f"{at.strftime('%Y%m%dT%H%M%S%f')}-{secrets.token_hex(4)}"
        entry = OutboxEntry(entry_id, at, message.recipient, message.subject, message.text)
        try:
            await asyncio.to_thread(self._write, entry)
        except OSError as exc:
            raise SendError(f"cannot write to the outbox {self._dir}: {exc}") from exc
        return Receipt(self.name, entry_id)

    def _write(self, entry: OutboxEntry) -> None:
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self._dir / f".{entry.id}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entry.to_json(), fh, ensure_ascii=False)
        # Renamed into place whole, so a reader never sees half a message.
        os.replace(tmp, self._dir / f"{entry.id}.json")

    async def close(self) -> None:
        return None


def read_outbox(directory: Path, *, limit: int | None = None) -> list[OutboxEntry]:
    """The messages in ``directory``, newest first (at most ``limit``); unreadable files are
    skipped."""
    if not directory.is_dir():
        return []
    names = sorted((p for p in directory.glob("*.json")), key=lambda p: p.name, reverse=True)
    out: list[OutboxEntry] = []
    for path in names:
        if limit is not None and len(out) >= limit:
            break
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            out.append(
                OutboxEntry(
                    id=str(raw["id"]),
                    at=datetime.fromisoformat(raw["at"]),
                    recipient=str(raw["recipient"]),
                    subject=str(raw["subject"]),
                    text=str(raw["text"]),
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out
