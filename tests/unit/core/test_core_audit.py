"""The hash-chained audit log: building entries and finding every kind of tampering."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from hearing_server.core.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditEvent,
    ChainProblem,
    ChainProblemKind,
    canonical_bytes,
    compute_hash,
    format_time,
    head_hash,
    make_entry,
    verify_chain,
)
from hearing_server.core.errors import ValidationError

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
N = 6

# docs/domain.md "What goes on the record", plus the bookkeeping events; written out by hand.
EVENTS = {
    "joined", "left", "disconnected", "reconnected", "admitted", "returned_to_waiting",
    "removed", "hearing_state_changed", "muted", "unmuted", "hand_raised", "hand_lowered",
    "floor_granted", "spotlight_set", "layout_set", "witness_sworn", "notice_sent",
    "self_test_reported", "help_requested", "alert_acknowledged",
    "consultation_requested", "consultation_accepted", "consultation_rejected",
    "witness_called", "witness_dismissed", "recording_started", "recording_paused",
    "recording_resumed", "recording_stopped", "recording_failed", "livestream_started",
    "livestream_cut", "livestream_resumed", "livestream_stopped", "livestream_replay_changed",
    "identity_check_passed",
    "identity_check_failed", "transcript_segment_corrected", "transcript_finalised",
    "agreement_drafted",
    "agreement_proposed", "agreement_signed", "agreement_sealed", "notice_delivered",
    "notice_read", "hearing_created", "hearing_updated", "participant_added", "link_issued",
    "link_revoked",
    # electronic service: each delivery's steps, and service recorded by hand
    "service_document_added", "service_queued", "service_sent", "service_delivered",
    "service_opened", "service_confirmed", "service_failed", "service_recorded",
    "service_receipt_issued", "service_reminder_sent", "service_reschedule_sent",
    "service_cancellation_sent",
    # scheduling: bookings, their changes with the reason, clashes accepted on purpose
    "hearing_scheduled", "hearing_rescheduled", "hearing_cancelled",
    "schedule_conflict_overridden", "slot_link_issued",
    # identity checks: the method and the outcome, never the ID number or the code
    "identity_policy_set", "identity_registered", "identity_locked", "identity_code_sent",
    "identity_code_send_failed", "identity_help_requested", "identity_verified",
    "identity_waived", "identity_cleared",
    # caucus: who met whom and when, never what was said
    "caucus_opened", "caucus_closed", "caucus_entered", "caucus_timer_set",
    "consultation_ended",
    # the mediation agreement, step by step
    "agreement_accepted", "agreement_changes_requested", "agreement_signing_opened",
    "agreement_sign_code_sent", "agreement_signing_failed", "agreement_not_reached",
    "agreement_confirmation_requested",
    "identity_photo_set",
    "identity_face_check_started",
    "biometrics_purged",
    # evidence: each exhibit's hash goes on the chain
    "evidence_submitted", "evidence_released", "evidence_presented",
    "evidence_presentation_ended", "presenting_granted", "presenting_withdrawn",
    "evidence_opinion_recorded",
}  # fmt: skip
FIELDS = ["seq", "hearing_id", "at", "actor", "event", "data", "prev_hash", "hash"]


def chain(n: int = N, hearing_id: str = "h1") -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    prev: AuditEntry | None = None
    events = [AuditEvent.HEARING_CREATED, AuditEvent.JOINED, AuditEvent.MUTED]
    for i in range(n):
        prev = make_entry(
            prev,
            hearing_id,
            ["system", "staff:王法官", f"p{i}"][i % 3],
            events[i % 3],
            {"i": i, "name": "张三", "nested": {"list": [1, 2.5, None, True]}},
            T0 + timedelta(seconds=i),
        )
        entries.append(prev)
    return entries


def kinds(problems: list[ChainProblem]) -> list[tuple[ChainProblemKind, int | None]]:
    return [(p.kind, p.seq) for p in problems]


def rehash(entry: AuditEntry) -> AuditEntry:
    """What someone who can write the store and knows the scheme would do after an edit."""
    return replace(entry, hash=compute_hash(entry))


# -- building entries ---------------------------------------------------------------------


def test_event_vocabulary() -> None:
    assert {e.value for e in AuditEvent} == EVENTS
    assert len(list(AuditEvent)) == len(EVENTS)


def test_first_entry() -> None:
    e = make_entry(None, "h1", "staff:alice", AuditEvent.HEARING_CREATED, {"a": 1}, T0)
    assert e.seq == 1
    assert e.prev_hash == GENESIS_HASH == "0" * 64
    assert e.hearing_id == "h1" and e.actor == "staff:alice"
    assert e.event == "hearing_created" and type(e.event) is str
    assert e.at == "2026-03-02T09:00:00.000000+00:00"
    assert e.timestamp == T0
    assert len(e.hash) == 64 and int(e.hash, 16) >= 0


def test_hash_is_sha256_of_the_canonical_json_of_every_other_field() -> None:
    e = make_entry(None, "h1", "p1", "joined", {"b": "张三", "a": [1, {"z": 0, "y": 1}]}, T0)
    payload = {
        "seq": 1,
        "hearing_id": "h1",
        "at": "2026-03-02T09:00:00.000000+00:00",
        "actor": "p1",
        "event": "joined",
        "data": {"b": "张三", "a": [1, {"z": 0, "y": 1}]},
        "prev_hash": "0" * 64,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_bytes(e) == text.encode("utf-8")
    assert "张三".encode() in canonical_bytes(e)  # not \\u-escaped
    assert e.hash == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert compute_hash(e) == e.hash


def test_entries_link_and_count_up() -> None:
    entries = chain()
    assert [e.seq for e in entries] == list(range(1, N + 1))
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
    assert head_hash(entries) == entries[-1].hash
    assert head_hash([]) == GENESIS_HASH


def test_time_is_stored_in_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    e = make_entry(None, "h1", "system", "joined", {}, datetime(2026, 3, 2, 17, 0, 0, 5, beijing))
    assert e.at == "2026-03-02T09:00:00.000005+00:00"
    assert format_time(T0) == "2026-03-02T09:00:00.000000+00:00"


def test_naive_time_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        make_entry(None, "h1", "system", "joined", {}, datetime(2026, 3, 2, 9, 0))
    assert info.value.code == "invalid_date"


def test_chains_are_per_hearing() -> None:
    a1 = make_entry(None, "h1", "system", "hearing_created", {}, T0)
    b1 = make_entry(None, "h2", "system", "hearing_created", {}, T0)
    a2 = make_entry(a1, "h1", "system", "joined", {}, T0)
    b2 = make_entry(b1, "h2", "system", "joined", {}, T0)
    assert (a1.seq, a2.seq, b1.seq, b2.seq) == (1, 2, 1, 2)
    assert b1.prev_hash == GENESIS_HASH
    assert verify_chain([a1, a2]) == [] and verify_chain([b1, b2]) == []
    with pytest.raises(ValidationError) as info:
        make_entry(a2, "h2", "system", "joined", {}, T0)
    assert info.value.code == "wrong_hearing"


def test_unknown_events_are_rejected() -> None:
    assert make_entry(None, "h1", "system", "notice_read", {}, T0).event == "notice_read"
    for bad in ("", "Joined", "recording_stoped", "joined "):
        with pytest.raises(ValidationError) as info:
            make_entry(None, "h1", "system", bad, {}, T0)
        assert info.value.code == "invalid_event"


@pytest.mark.parametrize("actor", ["system", "staff:alice", "staff:王法官", "p-123", "8c1f9e"])
def test_good_actors(actor: str) -> None:
    assert make_entry(None, "h1", actor, "joined", {}, T0).actor == actor


@pytest.mark.parametrize("actor", ["", "staff:", "staff:  ", "p\n1", "p\x001", "x" * 201])
def test_bad_actors(actor: str) -> None:
    with pytest.raises(ValidationError):
        make_entry(None, "h1", actor, "joined", {}, T0)


@pytest.mark.parametrize("hearing_id", ["", "h\n1", "x" * 201])
def test_bad_hearing_ids(hearing_id: str) -> None:
    with pytest.raises(ValidationError):
        make_entry(None, hearing_id, "system", "joined", {}, T0)


def test_data_is_copied_and_normalised() -> None:
    data: dict[str, Any] = {"list": [1, 2], "tuple": (1, "a"), "flag": AuditEvent.MUTED}
    e = make_entry(None, "h1", "system", "muted", data, T0)
    data["list"].append(3)
    data["new"] = 1
    assert e.data == {"list": [1, 2], "tuple": [1, "a"], "flag": "muted"}
    assert type(e.data["flag"]) is str
    assert make_entry(None, "h1", "system", "muted", None, T0).data == {}


def test_entry_survives_a_json_round_trip() -> None:
    entries = chain()
    restored = [AuditEntry.from_dict(json.loads(json.dumps(e.to_dict()))) for e in entries]
    assert restored == entries
    assert verify_chain(restored) == []


def test_from_dict_checks_shape() -> None:
    good = chain(1)[0].to_dict()
    for key in FIELDS:
        broken = dict(good)
        del broken[key]
        with pytest.raises(ValidationError):
            AuditEntry.from_dict(broken)
    for key, value in [("seq", "1"), ("seq", True), ("data", []), ("hash", None), ("at", 5)]:
        with pytest.raises(ValidationError):
            AuditEntry.from_dict({**good, key: value})


@pytest.mark.parametrize(
    "data",
    [
        {"x": float("nan")},
        {"x": float("inf")},
        {1: "int key"},
        {"x": {1, 2}},
        {"x": b"bytes"},
        {"x": object()},
        {"x": datetime(2026, 1, 1, tzinfo=UTC)},
        {"x": "\ud800"},  # a lone surrogate cannot be UTF-8
    ],
)
def test_data_json_cannot_represent_is_rejected(data: dict[Any, Any]) -> None:
    with pytest.raises(ValidationError):
        make_entry(None, "h1", "system", "joined", data, T0)


def test_data_nesting_is_bounded() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ValidationError):
        make_entry(None, "h1", "system", "joined", deep, T0)


def test_data_must_be_an_object() -> None:
    with pytest.raises(ValidationError):
        make_entry(None, "h1", "system", "joined", [1, 2], T0)  # type: ignore[arg-type]


# -- verifying: intact --------------------------------------------------------------------


def test_an_intact_chain_verifies() -> None:
    entries = chain()
    assert verify_chain(entries) == []
    assert verify_chain(entries, hearing_id="h1") == []
    assert verify_chain(entries, expected_count=N, expected_head_hash=entries[-1].hash) == []


def test_an_empty_chain_verifies() -> None:
    assert verify_chain([]) == []
    assert verify_chain([], expected_count=0, expected_head_hash=GENESIS_HASH) == []


# -- verifying: edits ---------------------------------------------------------------------


def edited(entry: AuditEntry, field: str) -> AuditEntry:
    new: dict[str, object] = {
        "seq": entry.seq + 100,
        "hearing_id": entry.hearing_id + "x",
        "at": "2026-03-02T08:59:59.000000+00:00",
        "actor": entry.actor + "x",
        "event": "left" if entry.event != "left" else "joined",
        "data": {**entry.data, "i": -1},
        "prev_hash": "f" * 64,
        "hash": "e" * 64,
    }
    return replace(entry, **{field: new[field]})  # type: ignore[arg-type]


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("index", range(N))
def test_editing_any_field_of_any_entry_is_found(field: str, index: int) -> None:
    entries = chain()
    entries[index] = edited(entries[index], field)
    problems = verify_chain(entries)
    assert any(p.kind is ChainProblemKind.HASH_MISMATCH and p.position == index for p in problems)
    if field != "seq":
        # Everything reported points at the edited entry or the one linking to it.
        assert {p.position for p in problems} <= {index, index + 1}


def test_editing_the_first_entrys_hearing_does_not_make_the_rest_foreign() -> None:
    entries = chain()
    entries[0] = edited(entries[0], "hearing_id")
    assert kinds(verify_chain(entries)) == [
        (ChainProblemKind.WRONG_HEARING, 1),
        (ChainProblemKind.HASH_MISMATCH, 1),
    ]


@pytest.mark.parametrize("index", range(N))
def test_editing_data_in_place_is_found(index: int) -> None:
    entries = chain()
    entries[index].data["nested"]["list"].append("forged")
    problems = verify_chain(entries)
    assert kinds(problems) == [(ChainProblemKind.HASH_MISMATCH, index + 1)]
    assert str(problems[0]).startswith(f"seq {index + 1}: hash_mismatch")


@pytest.mark.parametrize("index", range(N - 1))
def test_an_edit_covered_by_a_new_hash_breaks_the_next_link(index: int) -> None:
    entries = chain()
    entries[index] = rehash(replace(entries[index], actor="staff:someone_else"))
    assert kinds(verify_chain(entries)) == [(ChainProblemKind.BROKEN_LINK, index + 2)]


def test_an_edit_of_the_last_entry_with_a_new_hash_needs_the_head() -> None:
    entries = chain()
    head = entries[-1].hash
    entries[-1] = rehash(replace(entries[-1], data={"forged": True}))
    assert verify_chain(entries) == []  # undetectable from the chain alone
    assert kinds(verify_chain(entries, expected_head_hash=head)) == [
        (ChainProblemKind.TRUNCATED, None)
    ]


def test_a_wrong_genesis_is_found() -> None:
    entries = chain()
    entries[0] = rehash(replace(entries[0], prev_hash="1" * 64))
    problems = verify_chain(entries)
    assert (ChainProblemKind.BROKEN_LINK, 1) in kinds(problems)


# -- verifying: removals ------------------------------------------------------------------


def test_removing_the_first_entry_is_found() -> None:
    problems = verify_chain(chain()[1:])
    assert kinds(problems) == [(ChainProblemKind.MISSING, 2)]
    assert "seq 1 missing" in str(problems[0])
    assert problems[0].position == 0


@pytest.mark.parametrize("index", range(1, N - 1))
def test_removing_a_middle_entry_is_found(index: int) -> None:
    entries = chain()
    del entries[index]
    problems = verify_chain(entries)
    assert kinds(problems) == [(ChainProblemKind.MISSING, index + 2)]
    assert f"seq {index + 1} missing" in problems[0].message


def test_removing_several_entries_is_found() -> None:
    entries = chain()
    del entries[1:4]
    problems = verify_chain(entries)
    assert kinds(problems) == [(ChainProblemKind.MISSING, 5)]
    assert "seqs 2..4 missing" in problems[0].message


def test_removing_entries_and_renumbering_is_found() -> None:
    entries = chain()
    del entries[2]
    entries[2:] = [replace(e, seq=e.seq - 1) for e in entries[2:]]
    problems = verify_chain(entries)
    assert (ChainProblemKind.HASH_MISMATCH, 3) in kinds(problems)


def test_removing_the_last_entry_needs_an_expected_count_or_head() -> None:
    entries = chain()
    head = entries[-1].hash
    cut = entries[:-1]
    # The shorter chain is intact: nothing in it shows that something followed.
    assert verify_chain(cut) == []
    assert kinds(verify_chain(cut, expected_count=N)) == [(ChainProblemKind.TRUNCATED, None)]
    assert kinds(verify_chain(cut, expected_head_hash=head)) == [(ChainProblemKind.TRUNCATED, None)]
    assert "expected 6 entries, found 5" in str(verify_chain(cut, expected_count=N)[0])
    assert kinds(verify_chain([], expected_count=N)) == [(ChainProblemKind.TRUNCATED, None)]
    assert kinds(verify_chain([], expected_head_hash=head)) == [(ChainProblemKind.TRUNCATED, None)]


def test_expected_count_also_catches_extra_entries() -> None:
    entries = chain()
    assert kinds(verify_chain(entries, expected_count=N - 1)) == [
        (ChainProblemKind.TRUNCATED, None)
    ]


# -- verifying: order and intruders --------------------------------------------------------


@pytest.mark.parametrize("index", range(N - 1))
def test_swapping_neighbours_is_found(index: int) -> None:
    entries = chain()
    entries[index], entries[index + 1] = entries[index + 1], entries[index]
    problems = verify_chain(entries)
    assert kinds(problems) == [(ChainProblemKind.OUT_OF_ORDER, index + 1)]
    assert f"comes after seq {index + 2}" in problems[0].message
    assert problems[0].position == index + 1


def test_moving_an_entry_is_found() -> None:
    entries = chain()
    entries.insert(1, entries.pop())
    assert kinds(verify_chain(entries)) == [(ChainProblemKind.OUT_OF_ORDER, 2)]


def test_reversing_the_chain_is_found() -> None:
    problems = verify_chain(list(reversed(chain())))
    assert {p.kind for p in problems} == {ChainProblemKind.OUT_OF_ORDER}
    assert len(problems) == N - 1


def test_a_duplicated_entry_is_found() -> None:
    entries = chain()
    entries.insert(3, entries[2])
    assert kinds(verify_chain(entries)) == [(ChainProblemKind.DUPLICATE, 3)]


def test_a_forged_second_version_of_an_entry_is_found() -> None:
    entries = chain()
    forged = rehash(replace(entries[2], data={"forged": True}))
    entries.append(forged)
    assert (ChainProblemKind.DUPLICATE, 3) in kinds(verify_chain(entries))


def test_an_entry_of_another_hearing_is_found() -> None:
    entries = chain()
    other = chain(hearing_id="h2")
    entries[3] = other[3]
    problems = verify_chain(entries)
    assert (ChainProblemKind.WRONG_HEARING, 4) in kinds(problems)
    assert (ChainProblemKind.BROKEN_LINK, 4) in kinds(problems)


def test_the_expected_hearing_is_checked() -> None:
    problems = verify_chain(chain(2), hearing_id="h9")
    assert kinds(problems) == [
        (ChainProblemKind.WRONG_HEARING, 1),
        (ChainProblemKind.WRONG_HEARING, 2),
    ]


def test_malformed_entries_are_reported_not_raised() -> None:
    entries = chain(3)
    entries[0] = replace(entries[0], seq=0)
    entries[1] = replace(entries[1], data={"x": {1, 2}})
    entries[2] = replace(entries[2], seq="3")  # type: ignore[arg-type]
    problems = verify_chain(entries)
    assert [p.kind for p in problems] == [ChainProblemKind.MALFORMED] * 3 + [
        ChainProblemKind.MISSING
    ]
    assert str(problems[0]).startswith("chain: malformed")


def test_problems_read_well() -> None:
    entries = chain()
    del entries[2]
    (problem,) = verify_chain(entries)
    assert str(problem) == "seq 4: missing: seq 3 missing before it"
