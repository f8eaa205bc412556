"""The transcript's storage: a second hash chain per hearing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from hearing_server.core.audit import GENESIS_HASH, AuditEntry, compute_hash, format_time
from hearing_server.core.errors import ValidationError

TRANSCRIPT_FINALISED = "finalised"
"""The transcript chain's closing entry: nothing may follow it."""


class TranscriptStore(Protocol):
    """Persistence of each hearing's transcript chain (append only, closed by finalising)."""

    async def append_transcript(
        self,
        hearing_id: str,
        actor: str,
        event: str,
        data: dict[str, Any],
        at: datetime,
        *,
        audit_event: str | None = None,
        audit_data: dict[str, Any] | None = None,
    ) -> tuple[AuditEntry, AuditEntry | None]:
        """Append one entry to the hearing's transcript chain atomically.

        The transcript is a second hash chain per hearing, in the audit log's entry format
        (so :func:`hearing_server.core.audit.verify_chain` verifies it); ``event`` names the
        kind of entry (segment, correction, finalised). With ``audit_event``, an audit entry
        is appended in the same transaction, its data being ``audit_data`` plus the new
        transcript entry's ``transcript_seq`` and ``transcript_hash``. Returns both entries.
        Raises :class:`~hearing_server.core.errors.Conflict` once the chain holds a
        :data:`TRANSCRIPT_FINALISED` entry: a finalised transcript takes no more entries.
        """

    async def list_transcript(self, hearing_id: str) -> list[AuditEntry]: ...


def make_transcript_entry(
    prev: AuditEntry | None,
    hearing_id: str,
    actor: str,
    event: str,
    data: dict[str, Any],
    at: datetime,
) -> AuditEntry:
    """The next entry of a transcript chain: the audit log's entry format and hashing
    (:func:`~hearing_server.core.audit.compute_hash`), with the transcript's own events.

    Every store builds its entries here, so that a chain hashes the same whichever database
    holds it. Raises :class:`~hearing_server.core.errors.ValidationError` for what the chain
    could not carry exactly.
    """
    if not event or not actor or not hearing_id:
        raise ValidationError("a transcript entry needs a hearing, an actor and an event")
    try:  # what JSON cannot carry exactly would not verify after a round trip
        clean = json.loads(json.dumps(data, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"transcript entry data is not JSON: {exc}") from None
    if not isinstance(clean, dict):
        raise ValidationError("transcript entry data must be an object")
    entry = AuditEntry(
        seq=1 if prev is None else prev.seq + 1,
        hearing_id=hearing_id,
        at=format_time(at),
        actor=actor,
        event=event,
        data=clean,
        prev_hash=GENESIS_HASH if prev is None else prev.hash,
        hash="",
    )
    try:
        digest = compute_hash(entry)
    except UnicodeEncodeError as exc:
        raise ValidationError(f"transcript entry is not valid text: {exc.reason}") from None
    return replace(entry, hash=digest)
