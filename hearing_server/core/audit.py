"""The append-only, hash-chained audit log of a hearing.

Each hearing has its own chain: entries are numbered from 1, and each entry's ``hash`` is the
SHA-256 of the canonical JSON encoding (:func:`canonical_bytes`) of all its other fields,
``prev_hash`` included; the first entry's ``prev_hash`` is :data:`GENESIS_HASH`. Changing any
entry therefore breaks either its own hash or the link from the entry after it.

What the chain alone cannot show: entries cut off its end (the shorter chain is intact), or a
tail rewritten and re-hashed by someone who can write the store. Against both, keep the head
hash (:func:`head_hash`) and entry count somewhere else — a signed export, a notice to the
parties, another system — and pass them to :func:`verify_chain`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from .errors import ValidationError

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first entry of every chain."""

_HASH_FIELDS = ("seq", "hearing_id", "at", "actor", "event", "data", "prev_hash")
_MAX_DEPTH = 32
_MAX_ACTOR = 200


class AuditEvent(StrEnum):
    """Every event the audit log records (docs/domain.md "What goes on the record", and
    bookkeeping)."""

    # participants
    JOINED = "joined"
    LEFT = "left"
    DISCONNECTED = "disconnected"
    RECONNECTED = "reconnected"
    ADMITTED = "admitted"
    RETURNED_TO_WAITING = "returned_to_waiting"
    REMOVED = "removed"
    # the hearing
    HEARING_CREATED = "hearing_created"
    HEARING_UPDATED = "hearing_updated"
    HEARING_STATE_CHANGED = "hearing_state_changed"
    PARTICIPANT_ADDED = "participant_added"
    LINK_ISSUED = "link_issued"
    LINK_REVOKED = "link_revoked"
    # in the room
    MUTED = "muted"
    UNMUTED = "unmuted"
    HAND_RAISED = "hand_raised"
    HAND_LOWERED = "hand_lowered"
    FLOOR_GRANTED = "floor_granted"
    SPOTLIGHT_SET = "spotlight_set"
    LAYOUT_SET = "layout_set"
    CONSULTATION_REQUESTED = "consultation_requested"
    CONSULTATION_ACCEPTED = "consultation_accepted"
    CONSULTATION_REJECTED = "consultation_rejected"
    CONSULTATION_ENDED = "consultation_ended"
    WITNESS_CALLED = "witness_called"
    # caucus (mediation): who met whom and when; never anything said
    CAUCUS_OPENED = "caucus_opened"
    CAUCUS_CLOSED = "caucus_closed"
    CAUCUS_ENTERED = "caucus_entered"
    CAUCUS_TIMER_SET = "caucus_timer_set"
    WITNESS_DISMISSED = "witness_dismissed"
    WITNESS_SWORN = "witness_sworn"
    # the record
    RECORDING_STARTED = "recording_started"
    RECORDING_PAUSED = "recording_paused"
    RECORDING_RESUMED = "recording_resumed"
    RECORDING_STOPPED = "recording_stopped"
    RECORDING_FAILED = "recording_failed"
    LIVESTREAM_STARTED = "livestream_started"
    LIVESTREAM_CUT = "livestream_cut"
    LIVESTREAM_RESUMED = "livestream_resumed"
    LIVESTREAM_STOPPED = "livestream_stopped"
    LIVESTREAM_REPLAY_CHANGED = "livestream_replay_changed"  # the judge allowed or withdrew it
    TRANSCRIPT_SEGMENT_CORRECTED = "transcript_segment_corrected"
    TRANSCRIPT_FINALISED = "transcript_finalised"
    # identity (record the method and outcome: never the ID number, a code or a biometric)
    IDENTITY_POLICY_SET = "identity_policy_set"
    IDENTITY_REGISTERED = "identity_registered"
    IDENTITY_CHECK_PASSED = "identity_check_passed"
    IDENTITY_CHECK_FAILED = "identity_check_failed"
    IDENTITY_LOCKED = "identity_locked"
    IDENTITY_CODE_SENT = "identity_code_sent"
    IDENTITY_CODE_SEND_FAILED = "identity_code_send_failed"
    IDENTITY_HELP_REQUESTED = "identity_help_requested"
    IDENTITY_VERIFIED = "identity_verified"
    IDENTITY_WAIVED = "identity_waived"
    IDENTITY_CLEARED = "identity_cleared"
    IDENTITY_PHOTO_SET = "identity_photo_set"  # a reference photo stored (never the photo)
    IDENTITY_FACE_CHECK_STARTED = "identity_face_check_started"
    BIOMETRICS_PURGED = "biometrics_purged"
    # mediation agreement
    AGREEMENT_DRAFTED = "agreement_drafted"
    AGREEMENT_PROPOSED = "agreement_proposed"
    AGREEMENT_ACCEPTED = "agreement_accepted"
    AGREEMENT_CHANGES_REQUESTED = "agreement_changes_requested"
    AGREEMENT_SIGNING_OPENED = "agreement_signing_opened"
    AGREEMENT_SIGN_CODE_SENT = "agreement_sign_code_sent"
    AGREEMENT_SIGNED = "agreement_signed"
    AGREEMENT_SIGNING_FAILED = "agreement_signing_failed"
    AGREEMENT_SEALED = "agreement_sealed"
    AGREEMENT_NOT_REACHED = "agreement_not_reached"
    AGREEMENT_CONFIRMATION_REQUESTED = "agreement_confirmation_requested"
    # electronic service
    NOTICE_SENT = "notice_sent"
    SELF_TEST_REPORTED = "self_test_reported"
    HELP_REQUESTED = "help_requested"
    ALERT_ACKNOWLEDGED = "alert_acknowledged"
    NOTICE_DELIVERED = "notice_delivered"
    NOTICE_READ = "notice_read"
    # evidence (the exhibit's hash goes on the chain: a swapped file no longer matches it)
    EVIDENCE_SUBMITTED = "evidence_submitted"
    EVIDENCE_RELEASED = "evidence_released"
    EVIDENCE_PRESENTED = "evidence_presented"
    EVIDENCE_PRESENTATION_ENDED = "evidence_presentation_ended"
    PRESENTING_GRANTED = "presenting_granted"
    PRESENTING_WITHDRAWN = "presenting_withdrawn"
    EVIDENCE_OPINION_RECORDED = "evidence_opinion_recorded"
    # electronic service of documents (core/serving.py)
    SERVICE_DOCUMENT_ADDED = "service_document_added"
    SERVICE_QUEUED = "service_queued"
    SERVICE_SENT = "service_sent"
    SERVICE_DELIVERED = "service_delivered"
    SERVICE_OPENED = "service_opened"
    SERVICE_CONFIRMED = "service_confirmed"
    SERVICE_FAILED = "service_failed"
    SERVICE_RECORDED = "service_recorded"  # served by phone or post, recorded by the clerk
    SERVICE_RECEIPT_ISSUED = "service_receipt_issued"  # the sealed 送达回证 (its hash)
    SERVICE_REMINDER_SENT = "service_reminder_sent"  # 24 h or 1 h before the hearing
    SERVICE_RESCHEDULE_SENT = "service_reschedule_sent"  # the hearing's new time, told
    SERVICE_CANCELLATION_SENT = "service_cancellation_sent"  # the hearing is off, told
    # scheduling (core/schedule.py)
    HEARING_SCHEDULED = "hearing_scheduled"  # time, courtroom, people booked
    HEARING_RESCHEDULED = "hearing_rescheduled"  # with the reason
    HEARING_CANCELLED = "hearing_cancelled"  # with the reason
    SCHEDULE_CONFLICT_OVERRIDDEN = "schedule_conflict_overridden"  # booked despite clashes
    SLOT_LINK_ISSUED = "slot_link_issued"  # a party may pick the mediation's time


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of a hearing's audit chain.

    ``at`` is an ISO 8601 string in UTC with microseconds (``...+00:00``); ``actor`` is a
    participant id, ``"staff:<name>"`` or ``"system"``; ``data`` is JSON-compatible. The class
    holds whatever it is given, so that entries read back from a store can be verified even
    when they were tampered with: build new entries with :func:`make_entry`.
    """

    seq: int
    hearing_id: str
    at: str
    actor: str
    event: str
    data: dict[str, Any] = field(hash=False)
    prev_hash: str
    hash: str

    @property
    def timestamp(self) -> datetime:
        """``at`` as an aware datetime."""
        return datetime.fromisoformat(self.at)

    def to_dict(self) -> dict[str, Any]:
        """Every field, for storage or export (``data`` is copied)."""
        return {
            "seq": self.seq,
            "hearing_id": self.hearing_id,
            "at": self.at,
            "actor": self.actor,
            "event": self.event,
            "data": copy.deepcopy(self.data),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AuditEntry:
        """Rebuild an entry from :meth:`to_dict` output; checks field types, not hashes."""
        try:
            entry = cls(
                seq=raw["seq"],
                hearing_id=raw["hearing_id"],
                at=raw["at"],
                actor=raw["actor"],
                event=raw["event"],
                data=copy.deepcopy(raw["data"]),
                prev_hash=raw["prev_hash"],
                hash=raw["hash"],
            )
        except KeyError as exc:
            raise ValidationError(f"audit entry lacks {exc.args[0]!r}") from None
        for name in ("hearing_id", "at", "actor", "event", "prev_hash", "hash"):
            if not isinstance(getattr(entry, name), str):
                raise ValidationError(f"audit entry field {name!r} must be a string")
        if type(entry.seq) is not int or not isinstance(entry.data, dict):
            raise ValidationError("audit entry seq must be an int and data an object")
        return entry


class ChainProblemKind(StrEnum):
    """What can be wrong with a chain."""

    MALFORMED = "malformed"  # an entry cannot even be hashed (bad types, bad JSON)
    HASH_MISMATCH = "hash_mismatch"  # the entry was edited after it was written
    BROKEN_LINK = "broken_link"  # prev_hash does not match the entry before
    MISSING = "missing"  # seq numbers absent: entries removed
    DUPLICATE = "duplicate"  # the same seq twice
    OUT_OF_ORDER = "out_of_order"  # entries reordered
    WRONG_HEARING = "wrong_hearing"  # an entry of another hearing's chain
    TRUNCATED = "truncated"  # fewer entries, or another head, than expected


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One problem :func:`verify_chain` found.

    ``seq`` is the seq of the entry where it shows (as stored, which may itself be the
    edited field), ``position`` its index in the list given; either is None for problems
    of the chain as a whole.
    """

    kind: ChainProblemKind
    seq: int | None
    position: int | None
    message: str

    def __str__(self) -> str:
        where = "chain" if self.seq is None else f"seq {self.seq}"
        return f"{where}: {self.kind.value}: {self.message}"


def format_time(at: datetime) -> str:
    """The canonical form of ``at`` in the log: UTC, ISO 8601, microseconds."""
    if at.tzinfo is None:
        raise ValidationError("audit time must carry a timezone", code="invalid_date")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_bytes(entry: AuditEntry) -> bytes:
    """The bytes an entry's hash covers: every field but ``hash``, as canonical JSON.

    Raises ``ValueError`` or ``TypeError`` if the entry holds something JSON cannot encode.
    """
    payload = {name: getattr(entry, name) for name in _HASH_FIELDS}
    text = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def compute_hash(entry: AuditEntry) -> str:
    """SHA-256 hex of :func:`canonical_bytes`: what ``entry.hash`` must be."""
    return hashlib.sha256(canonical_bytes(entry)).hexdigest()


def head_hash(entries: Sequence[AuditEntry]) -> str:
    """The hash of the highest-numbered entry, or :data:`GENESIS_HASH` for an empty chain."""
    if not entries:
        return GENESIS_HASH
    return max(entries, key=lambda e: e.seq).hash


def make_entry(
    prev: AuditEntry | None,
    hearing_id: str,
    actor: str,
    event: AuditEvent | str,
    data: Mapping[str, Any] | None,
    at: datetime,
) -> AuditEntry:
    """The entry that follows ``prev`` (None: the first of the hearing's chain).

    Raises :class:`ValidationError` for a foreign ``prev``, an unknown event, a bad actor,
    a naive ``at`` or data JSON cannot represent exactly. ``data`` is copied (tuples become
    lists) so the entry equals what a store reads back.
    """
    _check_text("hearing_id", hearing_id, 200)
    _check_actor(actor)
    try:
        event_value = AuditEvent(event).value
    except ValueError:
        raise ValidationError(f"unknown audit event {event!r}", code="invalid_event") from None
    if prev is not None and prev.hearing_id != hearing_id:
        raise ValidationError(
            f"entry of hearing {hearing_id} cannot follow one of hearing {prev.hearing_id}",
            code="wrong_hearing",
        )
    entry = AuditEntry(
        seq=1 if prev is None else prev.seq + 1,
        hearing_id=hearing_id,
        at=format_time(at),
        actor=actor,
        event=event_value,
        data=_json_object(data if data is not None else {}),
        prev_hash=GENESIS_HASH if prev is None else prev.hash,
        hash="",
    )
    try:
        digest = compute_hash(entry)
    except UnicodeEncodeError as exc:  # lone surrogates survive JSON but not UTF-8
        raise ValidationError(f"audit entry is not valid text: {exc.reason}") from None
    return replace(entry, hash=digest)


def verify_chain(
    entries: Sequence[AuditEntry],
    *,
    hearing_id: str | None = None,
    expected_count: int | None = None,
    expected_head_hash: str | None = None,
) -> list[ChainProblem]:
    """Every problem in one hearing's chain, in the order given; empty when it is intact.

    Finds edited entries (hash mismatch), removed entries (gaps in seq, including the first),
    reordered and duplicated entries, links that do not match and entries of another hearing
    (``hearing_id``, or else the one most entries name). Entries removed from the end leave
    an intact shorter chain: only ``expected_count`` or ``expected_head_hash`` (the count and
    head when they were last recorded elsewhere) reveal them, as ``truncated``.
    """
    problems: list[ChainProblem] = []

    def report(kind: ChainProblemKind, seq: int | None, pos: int | None, msg: str) -> None:
        problems.append(ChainProblem(kind=kind, seq=seq, position=pos, message=msg))

    # Without an expected hearing, the majority decides: taking the first entry's would make
    # one edit there look like every other entry came from another hearing.
    owner = hearing_id
    if owner is None and entries:
        owner = Counter(e.hearing_id for e in entries).most_common(1)[0][0]
    valid: list[tuple[int, AuditEntry]] = []
    for pos, e in enumerate(entries):
        if type(e.seq) is not int or e.seq < 1:
            report(ChainProblemKind.MALFORMED, None, pos, f"position {pos} has seq {e.seq!r}")
            continue
        valid.append((pos, e))
        if e.hearing_id != owner:
            msg = f"belongs to hearing {e.hearing_id!r}, not {owner!r}"
            report(ChainProblemKind.WRONG_HEARING, e.seq, pos, msg)
        try:
            actual = compute_hash(e)
        except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
            report(ChainProblemKind.MALFORMED, e.seq, pos, f"cannot be encoded: {exc}")
            continue
        if actual != e.hash:
            msg = f"was altered: stored hash {str(e.hash)[:16]}..., contents hash {actual[:16]}..."
            report(ChainProblemKind.HASH_MISMATCH, e.seq, pos, msg)

    # Order: each entry must come after the one before it in the list.
    seen: set[int] = set()
    last = 0
    for pos, e in valid:
        if e.seq in seen:
            report(ChainProblemKind.DUPLICATE, e.seq, pos, f"seq {e.seq} appears more than once")
            continue
        if e.seq < last:
            msg = f"comes after seq {last}: entries were reordered"
            report(ChainProblemKind.OUT_OF_ORDER, e.seq, pos, msg)
        seen.add(e.seq)
        last = e.seq

    # Links are checked by seq, not by position, so that one swap is reported once (as out
    # of order) rather than as a cascade of broken links.
    by_seq: dict[int, tuple[int, AuditEntry]] = {}
    for pos, e in valid:
        by_seq.setdefault(e.seq, (pos, e))
    for seq in sorted(by_seq):
        pos, e = by_seq[seq]
        if seq == 1:
            if e.prev_hash != GENESIS_HASH:
                msg = "the first entry's prev_hash is not the genesis hash"
                report(ChainProblemKind.BROKEN_LINK, seq, pos, msg)
        elif seq - 1 in by_seq:
            if e.prev_hash != by_seq[seq - 1][1].hash:
                msg = (
                    f"prev_hash does not match the hash of seq {seq - 1}: that entry was "
                    "replaced, or this entry's prev_hash was edited"
                )
                report(ChainProblemKind.BROKEN_LINK, seq, pos, msg)
        else:
            first = max((s for s in by_seq if s < seq), default=0) + 1
            span = f"seq {first}" if first == seq - 1 else f"seqs {first}..{seq - 1}"
            report(ChainProblemKind.MISSING, seq, pos, f"{span} missing before it")

    kept = [e for _, e in valid]
    if expected_count is not None:
        top = max((e.seq for e in kept), default=0)
        if len(kept) != expected_count or top != expected_count:
            msg = f"expected {expected_count} entries, found {len(kept)} ending at seq {top}"
            report(ChainProblemKind.TRUNCATED, None, None, msg)
    if expected_head_hash is not None:
        actual_head = head_hash(kept)
        if actual_head != expected_head_hash:
            msg = (
                f"head hash is {actual_head[:16]}..., expected {expected_head_hash[:16]}...: "
                "entries were cut off the end or the tail was rewritten"
            )
            report(ChainProblemKind.TRUNCATED, None, None, msg)
    return problems


# -- internals ----------------------------------------------------------------------------


def _check_text(name: str, value: object, max_len: int) -> None:
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise ValidationError(f"{name} must be 1..{max_len} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value):
        raise ValidationError(f"{name} must not contain control characters")


def _check_actor(actor: str) -> None:
    _check_text("actor", actor, _MAX_ACTOR)
    if actor.startswith("staff:") and not actor[len("staff:") :].strip():
        raise ValidationError("a staff actor needs a name: 'staff:<name>'")


def _json_object(data: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ValidationError("audit data must be an object")
    out = _json_value(data, 0)
    assert isinstance(out, dict)
    return out


def _json_value(value: object, depth: int) -> object:
    """A copy of ``value`` that JSON round-trips exactly, or :class:`ValidationError`."""
    if depth > _MAX_DEPTH:
        raise ValidationError("audit data is nested too deeply")
    # bool before int (bool is an int); exact types only, so that e.g. an IntEnum is not
    # stored as something that reads back different.
    if value is None or type(value) in (bool, int, str):
        return value
    if isinstance(value, str):  # StrEnum members and other str subclasses: store the text
        return str(value)
    if type(value) is float:
        if not math.isfinite(value):
            raise ValidationError("audit data must not hold NaN or infinity")
        return value
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValidationError(f"audit data keys must be strings, not {k!r}")
            out[str(k)] = _json_value(v, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_json_value(v, depth + 1) for v in value]
    raise ValidationError(f"audit data cannot hold {type(value).__name__}")
