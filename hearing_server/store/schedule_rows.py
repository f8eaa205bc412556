"""What both SQL stores share about a booking's row: its columns and its people as JSON."""

from __future__ import annotations

import json
from datetime import datetime

from hearing_server.core.hearing import HearingKind
from hearing_server.core.schedule import Booking, BookingStatus, ScheduledPerson

COLUMNS = (
    "hearing_id, kind, start_at, end_at, courtroom, people, status, revision, reason, override, "
    "updated_by, updated_at"
)


def people_text(booking: Booking) -> str:
    return json.dumps([p.to_json() for p in booking.people], ensure_ascii=False)


def booking_from(values: tuple[object, ...]) -> Booking:
    """A booking from its row's values in :data:`COLUMNS` order (times already parsed)."""
    (hid, kind, start, end, room, people, status, revision, reason, override, by, at) = values
    assert isinstance(start, datetime) and isinstance(end, datetime)
    assert at is None or isinstance(at, datetime)
    return Booking(
        hearing_id=str(hid),
        kind=HearingKind(str(kind)),
        start=start,
        end=end,
        courtroom=None if room is None else str(room),
        people=tuple(ScheduledPerson.from_json(p) for p in json.loads(str(people))),
        status=BookingStatus(str(status)),
        revision=int(str(revision)),
        reason=None if reason is None else str(reason),
        override=None if override is None else str(override),
        updated_by=str(by),
        updated_at=at,
    )
