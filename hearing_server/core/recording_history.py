"""What a hearing's audit chain says of its recordings: which one was left running by a
server that died, and whether the judge stopped the last one (so nothing restarts it)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hearing_server.core.audit import AuditEntry, AuditEvent

SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class RecordingHistory:
    """``unfinished``: the last recording started and never stopped (its writer died);
    ``stopped_by_judge``: the last stop was a person's (the judge's, or staff's), not the
    server's."""

    unfinished: str | None
    stopped_by_judge: bool


def recording_history(entries: Iterable[AuditEntry]) -> RecordingHistory:
    """Read the chain in order. A stop closes the recording it names, not merely the last
    one started: a stalled node may stop its own recording after another node has started
    a newer one, which stays unfinished until something stops it."""
    running: list[str] = []
    by_person = False
    for entry in entries:
        rid = entry.data.get("recording_id")
        if entry.event == AuditEvent.RECORDING_STARTED and isinstance(rid, str):
            running.append(rid)
            by_person = False
        elif entry.event == AuditEvent.RECORDING_STOPPED:
            if rid in running:
                running.remove(rid)
            by_person = entry.actor != SYSTEM_ACTOR and not entry.data.get("interrupted")
    return RecordingHistory(running[-1] if running else None, by_person)
