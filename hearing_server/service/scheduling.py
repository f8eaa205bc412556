"""Scheduling use cases: book a hearing or mediation (time, duration, courtroom, the people
who must attend), reschedule or cancel it with a reason, and the court's calendar with its
clashes.

A booking that would double-book a courtroom or a person is refused with every clash
(:class:`~hearing_server.core.schedule.ScheduleConflict`), unless someone allowed to
(``override_schedule_conflict``) accepts the clashes with a reason, which is audited. The
check and the write are one step in the store, so two clerks cannot both take one courtroom.
A reschedule or a cancellation tells the served recipients through electronic service (new
time and calendar file; cancellation notice) and re-plans the reminders: those of a time that
no longer holds, or of a cancelled hearing, are skipped when due.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEvent
from hearing_server.core.errors import Conflict, NotFound, ValidationError
from hearing_server.core.hearing import Hearing, HearingAction, HearingState
from hearing_server.core.permissions import Action, authorize, require_staff
from hearing_server.core.schedule import (
    MAX_PEOPLE,
    MAX_REASON,
    Booking,
    BookingStatus,
    Clash,
    ScheduleConflict,
    ScheduledPerson,
    check_text,
    check_times,
    clashes,
)

from .hearings import HearingService

MAX_CALENDAR = timedelta(days=62)
_MOVABLE = frozenset({HearingState.SCHEDULED, HearingState.OPEN})


class Notices(Protocol):
    """What electronic service does when the schedule changes (ServingService)."""

    async def tell_new_time(self, hearing_id: str, *, news: bool = True) -> None: ...

    async def tell_cancelled(self, hearing_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    """One booking on the court's calendar, with its hearing and what it clashes with."""

    booking: Booking
    hearing: Hearing
    clashes: tuple[Clash, ...]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SchedulingService:
    """Book, reschedule and cancel hearings; the calendar."""

    def __init__(
        self,
        hearings: HearingService,
        notices: Notices,
        *,
        courtrooms: Sequence[str] = (),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._hearings = hearings
        self._store = hearings.store
        self._notices = notices
        self.courtrooms = tuple(courtrooms)
        self._now = clock

    def check_courtroom(self, value: object) -> str | None:
        """A courtroom as a booking holds it: one of the court's, or None (online)."""
        if value is None:
            return None  # online only: no room held
        room = check_text(value, "courtroom", 100)
        if self.courtrooms and room not in self.courtrooms:
            raise ValidationError(
                f"no courtroom {room!r}; the court's are {', '.join(self.courtrooms)}",
                code="unknown_courtroom",
            )
        return room

    async def _authorize(
        self, actor: Actor, hearing: Hearing, override_reason: str | None
    ) -> str | None:
        authorize(actor, Action.SCHEDULE_HEARING, hearing)
        if override_reason is None:
            return None
        authorize(actor, Action.OVERRIDE_SCHEDULE_CONFLICT, hearing)
        return check_text(override_reason, "the override's reason", MAX_REASON)

    async def _book(self, booking: Booking, expected: int, override: str | None) -> list[Clash]:
        found: list[Clash] = []

        def check(others: list[Booking]) -> None:
            found.extend(clashes(booking, others))
            if found and override is None:
                raise ScheduleConflict(list(found))

        await self._store.book(booking, expected_revision=expected, check=check)
        return found

    async def _audit_override(self, actor: Actor, booking: Booking, found: list[Clash]) -> None:
        if found:
            await self._hearings.audit(
                booking.hearing_id,
                actor,
                AuditEvent.SCHEDULE_CONFLICT_OVERRIDDEN,
                {"reason": booking.override, "clashes": [c.to_json() for c in found]},
            )

    async def schedule(
        self,
        actor: Actor,
        hearing_id: str,
        *,
        start: datetime,
        end: datetime,
        courtroom: object,
        people: list[ScheduledPerson],
        override_reason: str | None = None,
    ) -> tuple[Booking, list[Clash]]:
        """Book the hearing. Raises ``ScheduleConflict`` (409) with the clashes, ``Conflict``
        if it is booked already (reschedule it) or no longer scheduled, ``ValidationError``
        for times in the past, a bad duration, an unknown courtroom or too many people."""
        hearing = await self._store.get_hearing(hearing_id)
        override = await self._authorize(actor, hearing, override_reason)
        return await self._book_new(actor, hearing, start, end, courtroom, people, override)

    async def schedule_picked(
        self,
        actor: Actor,
        hearing_id: str,
        *,
        start: datetime,
        end: datetime,
        courtroom: str | None,
        people: list[ScheduledPerson],
    ) -> Booking:
        """A party booked their mediation by picking a slot from their link (``pick_slot``):
        no clash is ever accepted."""
        hearing = await self._store.get_hearing(hearing_id)
        authorize(actor, Action.PICK_SLOT, hearing)
        booking, _ = await self._book_new(actor, hearing, start, end, courtroom, people, None)
        return booking

    async def _book_new(
        self,
        actor: Actor,
        hearing: Hearing,
        start: datetime,
        end: datetime,
        courtroom: object,
        people: list[ScheduledPerson],
        override: str | None,
    ) -> tuple[Booking, list[Clash]]:
        if hearing.state not in _MOVABLE:
            raise Conflict(f"hearing is {hearing.state.value}; it cannot be scheduled")
        now = self._now()
        check_times(start, end, now)
        if len(people) > MAX_PEOPLE:
            raise ValidationError(f"at most {MAX_PEOPLE} people")
        booking = Booking(
            hearing_id=hearing.id,
            kind=hearing.kind,
            start=start,
            end=end,
            courtroom=self.check_courtroom(courtroom),
            people=tuple(people),
            updated_by=actor.id,
            updated_at=now,
            override=override,
        )
        try:
            await self._store.get_booking(hearing.id)
        except NotFound:
            pass
        else:
            raise Conflict("the hearing is booked already; reschedule it", code="already_booked")
        found = await self._book(booking, 0, override)
        moved = (start, end) != (hearing.scheduled_start, hearing.scheduled_end)
        if moved:
            # The booking was authorized above; the hearing's times follow it (a party who
            # picked a slot is not staff, so the system writes them).
            await self._hearings.update_hearing(
                Actor.system(),
                hearing.id,
                {"scheduled_start": start, "scheduled_end": end},
                booked=True,
            )
        await self._hearings.audit(
            hearing.id, actor, AuditEvent.HEARING_SCHEDULED, booking_json(booking)
        )
        await self._audit_override(actor, booking, found)
        # Anyone served already knows the hearing's time: news only if booking moved it.
        await self._notices.tell_new_time(hearing.id, news=moved)
        return booking, found

    async def reschedule(
        self,
        actor: Actor,
        hearing_id: str,
        *,
        start: datetime,
        end: datetime,
        courtroom: object,
        keep_courtroom: bool,
        reason: str,
        override_reason: str | None = None,
    ) -> tuple[Booking, list[Clash]]:
        """Move a booked hearing (and/or change its courtroom) for ``reason``; the served
        recipients are told the new time with a new calendar file, and the reminders are
        planned for it."""
        hearing = await self._store.get_hearing(hearing_id)
        override = await self._authorize(actor, hearing, override_reason)
        why = check_text(reason, "the reason", MAX_REASON)
        old = await self._store.get_booking(hearing.id)
        if not old.active or hearing.state not in _MOVABLE:
            raise Conflict(f"hearing is {hearing.state.value}; it cannot be rescheduled")
        now = self._now()
        check_times(start, end, now)
        booking = replace(
            old,
            start=start,
            end=end,
            courtroom=old.courtroom if keep_courtroom else self.check_courtroom(courtroom),
            revision=old.revision + 1,
            reason=why,
            updated_by=actor.id,
            updated_at=now,
            override=override,
        )
        if (booking.start, booking.end, booking.courtroom) == (old.start, old.end, old.courtroom):
            raise ValidationError("nothing changes: same time and courtroom", code="no_change")
        found = await self._book(booking, old.revision, override)
        await self._hearings.update_hearing(
            actor, hearing.id, {"scheduled_start": start, "scheduled_end": end}, booked=True
        )
        await self._hearings.audit(
            hearing.id,
            actor,
            AuditEvent.HEARING_RESCHEDULED,
            {"from": {"start": old.start.isoformat(), "end": old.end.isoformat(),
                      "courtroom": old.courtroom},
             **booking_json(booking)},
        )  # fmt: skip
        await self._audit_override(actor, booking, found)
        await self._notices.tell_new_time(hearing.id)
        return booking, found

    async def cancel(self, actor: Actor, hearing_id: str, *, reason: str) -> Booking:
        """Cancel a hearing that has not begun, for ``reason``: its booking frees the
        courtroom and the people, the hearing is closed, the served recipients are told and
        no reminder of it goes out."""
        hearing = await self._store.get_hearing(hearing_id)
        authorize(actor, Action.SCHEDULE_HEARING, hearing)
        why = check_text(reason, "the reason", MAX_REASON)
        if hearing.state not in _MOVABLE:
            raise Conflict(f"hearing is {hearing.state.value}; it cannot be cancelled")
        now = self._now()
        try:
            old = await self._store.get_booking(hearing.id)
        except NotFound:
            old = Booking(hearing.id, hearing.kind, hearing.scheduled_start,
                          hearing.scheduled_end, None, (), revision=0)  # fmt: skip
        booking = replace(
            old,
            status=BookingStatus.CANCELLED,
            revision=old.revision + 1,
            reason=why,
            updated_by=actor.id,
            updated_at=now,
            override=None,
        )
        await self._store.book(booking, expected_revision=old.revision, check=lambda _: None)
        # The court's decision is the actor's (audited below); closing is its consequence.
        await self._hearings.transition(Actor.system(), hearing.id, HearingAction.CLOSE)
        await self._hearings.audit(
            hearing.id, actor, AuditEvent.HEARING_CANCELLED, booking_json(booking)
        )
        await self._notices.tell_cancelled(hearing.id)
        return booking

    async def get(self, actor: Actor, hearing_id: str) -> Booking:
        hearing = await self._store.get_hearing(hearing_id)
        authorize(actor, Action.SCHEDULE_HEARING, hearing)
        return await self._store.get_booking(hearing.id)

    async def calendar(
        self, actor: Actor, start: datetime, end: datetime, *, include_cancelled: bool = False
    ) -> list[CalendarEntry]:
        """The bookings overlapping ``[start, end)`` with their clashes among themselves
        (those accepted by an override, or made by another path, show here)."""
        # The court's whole calendar is not any one hearing's: staff only.
        require_staff(actor, "only court staff may read the court's calendar")
        if start.tzinfo is None or end.tzinfo is None:
            raise ValidationError("times must carry a time zone", code="invalid_date")
        if not timedelta(0) < end - start <= MAX_CALENDAR:
            raise ValidationError("the calendar spans at most 62 days", code="invalid_range")
        bookings = await self._store.list_bookings(
            start=start, end=end, include_cancelled=include_cancelled
        )
        out = []
        for b in bookings:
            hearing = await self._store.get_hearing(b.hearing_id)
            found = tuple(clashes(b, bookings)) if b.active else ()
            out.append(CalendarEntry(b, hearing, found))
        return out


def booking_json(b: Booking) -> dict[str, Any]:
    """The public JSON shape of a booking."""
    return {
        "hearing_id": b.hearing_id,
        "kind": b.kind.value,
        "start": b.start.astimezone(UTC).isoformat(),
        "end": b.end.astimezone(UTC).isoformat(),
        "courtroom": b.courtroom,
        "people": [p.to_json() for p in b.people],
        "status": b.status.value,
        "revision": b.revision,
        "reason": b.reason,
        "override": b.override,
        "updated_by": b.updated_by,
        "updated_at": b.updated_at.astimezone(UTC).isoformat() if b.updated_at else None,
    }
