"""recording_history: what the audit chain says of a hearing's recordings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hearing_server.core.audit import AuditEntry, AuditEvent, make_entry
from hearing_server.core.recording_history import RecordingHistory, recording_history

HID = "h1"
JUDGE = "p-judge"


def _chain(*steps: tuple[str, AuditEvent, dict[str, Any]]) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for actor, event, data in steps:
        prev = entries[-1] if entries else None
        entries.append(make_entry(prev, HID, actor, event, data, datetime.now(UTC)))
    return entries


START, STOP = AuditEvent.RECORDING_STARTED, AuditEvent.RECORDING_STOPPED


def test_nothing_recorded_yet() -> None:
    assert recording_history([]) == RecordingHistory(None, False)


def test_a_recording_whose_server_died_is_unfinished() -> None:
    entries = _chain(("system", START, {"recording_id": "r1"}))
    assert recording_history(entries) == RecordingHistory("r1", False)


def test_the_judges_stop_is_remembered_and_a_servers_stop_is_not() -> None:
    judge_stop = _chain(
        ("system", START, {"recording_id": "r1"}), (JUDGE, STOP, {"recording_id": "r1"})
    )
    assert recording_history(judge_stop) == RecordingHistory(None, True)
    moved = _chain(
        ("system", START, {"recording_id": "r1"}), ("system", STOP, {"recording_id": "r1"})
    )
    assert recording_history(moved) == RecordingHistory(None, False)
    # the judge starts it again: the earlier stop no longer counts
    again = _chain(
        ("system", START, {"recording_id": "r1"}),
        (JUDGE, STOP, {"recording_id": "r1"}),
        (JUDGE, START, {"recording_id": "r2"}),
    )
    assert recording_history(again) == RecordingHistory("r2", False)


def test_closing_an_interrupted_recording_is_not_the_judges_stop() -> None:
    entries = _chain(
        ("system", START, {"recording_id": "r1"}),
        ("system", STOP, {"recording_id": "r1", "interrupted": True}),
    )
    assert recording_history(entries) == RecordingHistory(None, False)


def test_a_stalled_nodes_late_stop_does_not_hide_the_newer_recording() -> None:
    entries = _chain(
        ("system", START, {"recording_id": "r1"}),  # node a, which stalls
        ("system", START, {"recording_id": "r2"}),  # node b takes the hearing over
        ("system", STOP, {"recording_id": "r1"}),  # a wakes up and stops its own
    )
    assert recording_history(entries) == RecordingHistory("r2", False)
