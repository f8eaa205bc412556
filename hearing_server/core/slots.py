"""Mediators' after-hours windows and the slots a party picks from.

A mediator publishes *windows* (19:00 to 22:00 on given days); a window is cut into slots of the
mediation's length from its start. A party's link offers the slots still free: in the future,
inside a window, and clashing with no active booking of the mediator, the party or the
courtroom. Windows of one mediator never overlap. Pure: no I/O.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import ValidationError
from .schedule import overlaps

MIN_SLOT = timedelta(minutes=15)
MAX_SLOT = timedelta(hours=4)
MAX_WINDOW = timedelta(hours=12)
MAX_WINDOWS = 60  # in one request
HORIZON = timedelta(days=62)  # how far ahead windows may be published and slots offered


@dataclass(frozen=True, slots=True)
class Window:
    """A time a mediator is available for mediations (after hours, typically)."""

    id: str
    mediator_key: str
    mediator_name: str
    start: datetime
    end: datetime
    created_by: str
    created_at: datetime


def check_windows(windows: list[Window], existing: list[Window], now: datetime) -> None:
    """New windows: aware, ahead (within :data:`HORIZON`), 15 min to 12 h long, overlapping
    neither each other nor the mediator's windows already published. Raises
    :class:`ValidationError` (``in_the_past``, ``invalid_window``, ``overlapping_windows``)."""
    if not 0 < len(windows) <= MAX_WINDOWS:
        raise ValidationError(f"give 1 to {MAX_WINDOWS} windows", code="invalid_window")
    for w in windows:
        if w.start.tzinfo is None or w.end.tzinfo is None:
            raise ValidationError("times must carry a time zone", code="invalid_date")
        if w.start <= now:
            raise ValidationError(
                f"the window at {w.start.isoformat()} starts in the past", code="in_the_past"
            )
        if w.start > now + HORIZON:
            raise ValidationError("windows are published at most 62 days ahead",
                                  code="invalid_window")  # fmt: skip
        if not MIN_SLOT <= w.end - w.start <= MAX_WINDOW:
            raise ValidationError("a window lasts 15 minutes to 12 hours", code="invalid_window")
    ordered = sorted(windows, key=lambda w: w.start)
    for a, b in itertools.pairwise(ordered):
        if overlaps(a.start, a.end, b.start, b.end):
            raise ValidationError(
                f"the windows at {a.start.isoformat()} and {b.start.isoformat()} overlap",
                code="overlapping_windows",
            )
    for w in windows:
        for old in existing:
            if old.mediator_key == w.mediator_key and overlaps(w.start, w.end, old.start, old.end):
                raise ValidationError(
                    f"the window at {w.start.isoformat()} overlaps one already published "
                    f"({old.start.isoformat()} to {old.end.isoformat()})",
                    code="overlapping_windows",
                )


def cut_slots(windows: list[Window], length: timedelta, now: datetime) -> list[datetime]:
    """The starts of the slots of ``length`` in ``windows`` (from each window's start, whole
    slots only) that begin after ``now``, in order."""
    out: list[datetime] = []
    for w in sorted(windows, key=lambda w: w.start):
        start = w.start
        while start + length <= w.end:
            if start > now:
                out.append(start)
            start += length
    return out


@dataclass(frozen=True, slots=True)
class SlotLink:
    """A party's link to pick a mediation's slot: whose windows, whom it is for, how long."""

    id: str
    hearing_id: str
    token_hash: str
    mediator_key: str
    mediator_name: str
    party_name: str
    party_key: str | None  # recognises the party in other bookings (id:...)
    phone: str | None
    email: str | None
    time_zone: str | None
    minutes: int  # the mediation's length: the slots' length
    courtroom: str | None
    participant_id: str | None  # the party in the hearing: their join link goes in the notice
    expires_at: datetime
    created_by: str
    created_at: datetime
    picked_at: datetime | None = None

    def data(self) -> dict[str, object]:
        """What the store keeps as JSON (the rest has columns)."""
        return {
            "mediator_key": self.mediator_key, "mediator_name": self.mediator_name,
            "party_name": self.party_name, "party_key": self.party_key, "phone": self.phone,
            "email": self.email, "time_zone": self.time_zone, "minutes": self.minutes,
            "courtroom": self.courtroom, "participant_id": self.participant_id,
        }  # fmt: skip
