"""Scheduling: a hearing or mediation booked at a time, for a duration, in a courtroom, with
the people who must be there; and the conflicts that make a booking impossible.

A :class:`Booking` belongs to one hearing. It is *active* until cancelled; every change
(reschedule, cancellation) raises its ``revision``, so a notice or reminder can tell which
version of the schedule it was planned for. Two active bookings *clash* when their times
overlap and they share the courtroom, or one person (the same judge, mediator, clerk or party,
recognised by their :attr:`ScheduledPerson.key`). Pure: no I/O.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import Conflict, ValidationError
from .hearing import HearingKind

MIN_DURATION = timedelta(minutes=5)
MAX_DURATION = timedelta(hours=12)
MAX_PEOPLE = 50
MAX_NAME = 100
MAX_REASON = 500


class BookingStatus(StrEnum):
    """An active booking holds its time, room and people; a cancelled one holds nothing."""

    ACTIVE = "active"
    CANCELLED = "cancelled"


# Court staff are recognised by name within the court when no identifier is given; a party
# only by an identifier (ID card number, phone): two parties called 王伟 are two people.
STAFF_ROLES = frozenset({"judge", "mediator", "clerk"})
PERSON_ROLES = frozenset(
    {"judge", "mediator", "clerk", "party", "counsel", "witness", "expert", "interpreter"}
)


def check_text(value: object, what: str, limit: int) -> str:
    """``value`` as text, stripped: 1..``limit`` characters with no control or format
    characters and no lone surrogates. Raises :class:`ValidationError`."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text")
    text = value.strip()
    if not text or len(text) > limit:
        raise ValidationError(f"{what} must be 1 to {limit} characters")
    for ch in text:
        if 0xD800 <= ord(ch) <= 0xDFFF or unicodedata.category(ch) in ("Cc", "Cf"):
            raise ValidationError(f"{what} holds a character that is not text: {ord(ch):#x}")
    return text


def check_zone(value: object) -> str:
    """An IANA time zone name (``Europe/Berlin``). Raises :class:`ValidationError`."""
    name = check_text(value, "time_zone", 64)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {name!r}", code="invalid_time_zone") from None
    return name


@dataclass(frozen=True, slots=True)
class ScheduledPerson:
    """Someone who must attend: a role, a name, and what recognises them across hearings."""

    role: str
    name: str
    key: str | None  # None: cannot be recognised elsewhere (a party without an identifier)
    time_zone: str | None = None  # where they are, if not in the court's zone

    def to_json(self) -> dict[str, str | None]:
        return {"role": self.role, "name": self.name, "key": self.key,
                "time_zone": self.time_zone}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, str | None]) -> ScheduledPerson:
        return cls(str(data["role"]), str(data["name"]), data.get("key"), data.get("time_zone"))


def person(
    role: object, name: object, ident: object = None, time_zone: object = None
) -> ScheduledPerson:
    """A person to schedule, checked. ``ident`` (an ID card number, a phone number, a staff
    number) recognises them in other hearings; court staff without one are recognised by
    name. Raises :class:`ValidationError`."""
    if role not in PERSON_ROLES:
        raise ValidationError(
            f"role must be one of {', '.join(sorted(PERSON_ROLES))}", code="invalid_role"
        )
    assert isinstance(role, str)
    clean_name = check_text(name, "a person's name", MAX_NAME)
    key: str | None = None
    if ident is not None:
        text = check_text(ident, f"{clean_name}'s id", 64)
        key = "id:" + "".join(text.split()).upper().removeprefix("+86")
    elif role in STAFF_ROLES:
        key = f"staff:{clean_name}"
    zone = check_zone(time_zone) if time_zone is not None else None
    return ScheduledPerson(role, clean_name, key, zone)


@dataclass(frozen=True, slots=True)
class Booking:
    """The schedule of one hearing or mediation."""

    hearing_id: str
    kind: HearingKind
    start: datetime
    end: datetime
    courtroom: str | None  # None: online only, no room held
    people: tuple[ScheduledPerson, ...]
    status: BookingStatus = BookingStatus.ACTIVE
    revision: int = 1
    reason: str | None = None  # of the last reschedule or the cancellation
    updated_by: str = ""
    updated_at: datetime | None = None
    override: str | None = None  # why a clash was accepted, if one was
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status is BookingStatus.ACTIVE


def check_times(start: datetime, end: datetime, now: datetime) -> None:
    """A booking's times: aware, in the future, 5 min to 12 h long. Raises
    :class:`ValidationError`."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("times must carry a time zone", code="invalid_date")
    if start <= now:
        raise ValidationError("the start is in the past", code="in_the_past")
    if not MIN_DURATION <= end - start <= MAX_DURATION:
        raise ValidationError("a hearing lasts 5 minutes to 12 hours", code="invalid_duration")


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open intervals: one ending at 10:00 and one starting at 10:00 do not overlap."""
    return a_start < b_end and b_start < a_end


@dataclass(frozen=True, slots=True)
class Clash:
    """One reason a booking cannot be held: another hearing holds the room or a person."""

    what: str  # "courtroom" or the person's role (judge, mediator, party...)
    name: str  # the courtroom or the person's name
    hearing_id: str
    start: datetime
    end: datetime

    def to_json(self) -> dict[str, str]:
        return {"what": self.what, "name": self.name, "hearing_id": self.hearing_id,
                "start": self.start.isoformat(), "end": self.end.isoformat()}  # fmt: skip


def clashes(candidate: Booking, others: list[Booking]) -> list[Clash]:
    """Everything in ``others`` that ``candidate`` would double-book."""
    out: list[Clash] = []
    keys = {p.key: p for p in candidate.people if p.key is not None}
    for other in others:
        if other.hearing_id == candidate.hearing_id or not other.active:
            continue
        if not overlaps(candidate.start, candidate.end, other.start, other.end):
            continue
        if candidate.courtroom is not None and candidate.courtroom == other.courtroom:
            out.append(Clash("courtroom", candidate.courtroom, other.hearing_id,
                             other.start, other.end))  # fmt: skip
        for p in other.people:
            mine = keys.get(p.key) if p.key is not None else None
            if mine is not None:
                out.append(Clash(mine.role, mine.name, other.hearing_id, other.start, other.end))
    return out


class ScheduleConflict(Conflict):
    """The booking would double-book a courtroom or a person (HTTP 409 with the clashes)."""

    code = "schedule_conflict"

    def __init__(self, found: list[Clash]) -> None:
        names = "; ".join(f"{c.what} {c.name} (hearing {c.hearing_id})" for c in found)
        super().__init__(f"double-booked: {names}")
        self.clashes = found
