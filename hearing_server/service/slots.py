"""Mediators' after-hours windows and the party's slot link: the mediator (or the clerk for
them) publishes windows; the clerk gives a party of a mediation a link; the link's page offers
the free slots; the party's pick books the mediation (clashes checked in the store's one step,
as any booking) and serves the notice of mediation on the party as confirmation.

A link's token is an HMAC of its id under the server's serving key (only its hash is
stored), expires, and books once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEvent
from hearing_server.core.errors import Conflict, NotFound, ValidationError
from hearing_server.core.hearing import Hearing, HearingKind
from hearing_server.core.participant import Role
from hearing_server.core.permissions import Action, authorize, require_staff
from hearing_server.core.schedule import Booking, ScheduledPerson, clashes
from hearing_server.core.serving import token_hash
from hearing_server.core.slots import (
    HORIZON,
    MAX_SLOT,
    MIN_SLOT,
    SlotLink,
    Window,
    check_windows,
    cut_slots,
)

from .hearings import HearingService
from .scheduling import SchedulingService
from .serving import LinkExpired, Recipient
from .summons import SummonsService


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SlotOffer:
    """What a party's link shows: the mediation, the free slots, or the booking made."""

    link: SlotLink
    hearing: Hearing
    slots: list[datetime]
    booking: Booking | None


class SlotService:
    """Windows, slot links, offers and picks."""

    def __init__(
        self,
        hearings: HearingService,
        scheduling: SchedulingService,
        summons: SummonsService,
        *,
        secret: bytes,
        public_url: str,
        link_ttl: timedelta = timedelta(days=14),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._hearings = hearings
        self._store = hearings.store
        self._scheduling = scheduling
        self._summons = summons
        self._secret = secret
        self._public_url = public_url.rstrip("/")
        self._link_ttl = link_ttl
        self._now = clock

    # -- windows ---------------------------------------------------------------------------

    async def publish(
        self, actor: Actor, mediator: ScheduledPerson, spans: list[tuple[datetime, datetime]]
    ) -> list[Window]:
        """Publish ``mediator``'s windows. Raises ``ValidationError`` for windows in the
        past, too long or short, or overlapping each other or the mediator's others."""
        require_staff(actor, "only court staff publish mediators' windows")
        if mediator.role != "mediator" or mediator.key is None:
            raise ValidationError("windows are a mediator's", code="invalid_role")
        now = self._now()
        windows = [
            Window(f"win-{secrets.token_hex(8)}", mediator.key, mediator.name, s, e, actor.id, now)
            for s, e in spans
        ]
        check_windows(windows, [], now)
        await self._store.add_windows(
            windows, check=lambda existing: check_windows(windows, existing, now)
        )
        return windows

    async def windows(
        self, actor: Actor, *, start: datetime, end: datetime, mediator_key: str | None
    ) -> list[Window]:
        require_staff(actor, "only court staff read mediators' windows")
        return await self._store.list_windows(start=start, end=end, mediator_key=mediator_key)

    # -- links -----------------------------------------------------------------------------

    def token_for(self, link_id: str) -> str:
        mac = hmac.new(self._secret, f"slot:{link_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    async def issue_link(
        self,
        actor: Actor,
        hearing_id: str,
        *,
        mediator: ScheduledPerson,
        party: ScheduledPerson,
        recipient: Recipient,
        minutes: int,
        courtroom: str | None,
    ) -> tuple[SlotLink, str]:
        """A link for ``party`` to pick a slot of ``mediator``'s for this mediation, and the
        notice of mediation served on ``recipient`` once picked; returns it and its URL
        (``<public_url>/pick#token=...``)."""
        hearing = await self._store.get_hearing(hearing_id)
        authorize(actor, Action.SCHEDULE_HEARING, hearing)
        if hearing.kind is not HearingKind.MEDIATION:
            raise ValidationError("parties pick slots for mediations", code="not_a_mediation")
        if mediator.role != "mediator" or mediator.key is None:
            raise ValidationError("the windows are a mediator's", code="invalid_role")
        if not MIN_SLOT <= timedelta(minutes=minutes) <= MAX_SLOT:
            raise ValidationError("a mediation slot lasts 15 to 240 minutes",
                                  code="invalid_duration")  # fmt: skip
        courtroom = self._scheduling.check_courtroom(courtroom)
        if recipient.phone is None and recipient.email is None:
            raise ValidationError("the party needs a phone or an e-mail for the confirmation")
        now = self._now()
        link_id = f"pick-{secrets.token_hex(10)}"
        token = self.token_for(link_id)
        link = SlotLink(
            id=link_id,
            hearing_id=hearing.id,
            token_hash=token_hash(token),
            mediator_key=mediator.key,
            mediator_name=mediator.name,
            party_name=party.name,
            party_key=party.key,
            phone=recipient.phone,
            email=recipient.email,
            time_zone=recipient.time_zone or party.time_zone,
            minutes=minutes,
            courtroom=courtroom,
            participant_id=recipient.participant_id,
            expires_at=now + self._link_ttl,
            created_by=actor.id,
            created_at=now,
        )
        # The party's participant id rides along for the join link in the notice.
        if recipient.participant_id is not None:
            participant = await self._store.get_participant(recipient.participant_id)
            if participant.hearing_id != hearing.id:
                raise NotFound(f"no participant {recipient.participant_id} in this hearing")
        await self._store.add_slot_link(link)
        await self._hearings.audit(
            hearing.id,
            actor,
            AuditEvent.SLOT_LINK_ISSUED,
            {"link_id": link.id, "party": party.name, "mediator": mediator.name,
             "minutes": minutes, "expires_at": link.expires_at.isoformat(),
             "participant_id": recipient.participant_id},
        )  # fmt: skip
        return link, f"{self._public_url}/pick#token={token}"

    async def _link(self, token: str) -> SlotLink:
        if not 20 <= len(token) <= 100:
            raise NotFound("no such link")
        link = await self._store.slot_link_by_token(token_hash(token))
        if not hmac.compare_digest(self.token_for(link.id), token):
            raise NotFound("no such link")
        if self._now() >= link.expires_at:
            raise LinkExpired("this link has expired; please contact the court")
        return link

    def _people(self, link: SlotLink) -> tuple[ScheduledPerson, ...]:
        return (
            ScheduledPerson("mediator", link.mediator_name, link.mediator_key),
            ScheduledPerson("party", link.party_name, link.party_key, link.time_zone),
        )

    async def _free(self, link: SlotLink, hearing: Hearing) -> list[datetime]:
        now = self._now()
        length = timedelta(minutes=link.minutes)
        windows = await self._store.list_windows(
            start=now, end=now + HORIZON, mediator_key=link.mediator_key
        )
        starts = cut_slots(windows, length, now)
        if not starts:
            return []
        bookings = await self._store.list_bookings(start=starts[0], end=starts[-1] + length)
        people = self._people(link)
        return [
            s
            for s in starts
            if not clashes(
                Booking(hearing.id, hearing.kind, s, s + length, link.courtroom, people),
                bookings,
            )
        ]

    async def offer(self, token: str) -> SlotOffer:
        """What the link shows. Raises ``NotFound`` (unknown or forged), ``LinkExpired``."""
        link = await self._link(token)
        hearing = await self._store.get_hearing(link.hearing_id)
        try:
            booking: Booking | None = await self._store.get_booking(hearing.id)
        except NotFound:
            booking = None
        if booking is not None or link.picked_at is not None:
            return SlotOffer(link, hearing, [], booking)
        return SlotOffer(link, hearing, await self._free(link, hearing), None)

    async def pick(self, token: str, start: datetime) -> Booking:
        """Book the mediation at ``start``, one of the link's free slots, and serve the notice
        of mediation on the party. Raises ``ValidationError`` (``in_the_past``,
        ``not_a_slot``), ``Conflict`` (``already_booked``; ``slot_taken`` when it was taken
        meanwhile)."""
        link = await self._link(token)
        hearing = await self._store.get_hearing(link.hearing_id)
        actor = Actor(id=f"slot-link:{link.id}", role=Role.PARTY, hearing_id=hearing.id)
        authorize(actor, Action.PICK_SLOT, hearing)
        if link.picked_at is not None:
            raise Conflict("a time has been picked already", code="already_booked")
        if start.tzinfo is None:
            raise ValidationError("the start must carry a time zone", code="invalid_date")
        if start <= self._now():
            raise ValidationError("that time has passed", code="in_the_past")
        length = timedelta(minutes=link.minutes)
        windows = await self._store.list_windows(
            start=start, end=start + length, mediator_key=link.mediator_key
        )
        if start not in cut_slots(windows, length, self._now()):
            raise ValidationError("that is not one of the offered times", code="not_a_slot")
        booking = await self._scheduling.schedule_picked(
            actor,
            hearing.id,
            start=start,
            end=start + length,
            courtroom=link.courtroom,
            people=list(self._people(link)),
        )
        await self._store.mark_slot_link_picked(link.id, self._now())
        recipient = Recipient(
            link.party_name, link.phone, link.email, link.participant_id, link.time_zone
        )
        await self._summons.serve(Actor.system(), hearing.id, recipient)
        return booking


def offer_json(offer: SlotOffer, zone: str) -> dict[str, Any]:
    """The link page's JSON: the mediation, the free slots (UTC), the booking if made."""
    h = offer.hearing
    return {
        "court": h.court,
        "case_number": h.case_number,
        "title": h.title,
        "party": offer.link.party_name,
        "mediator": offer.link.mediator_name,
        "minutes": offer.link.minutes,
        "courtroom": offer.link.courtroom,
        "time_zone": zone,
        "own_time_zone": offer.link.time_zone,
        "expires_at": offer.link.expires_at.astimezone(UTC).isoformat(),
        "slots": [s.astimezone(UTC).isoformat() for s in offer.slots],
        "booked": None
        if offer.booking is None
        else {
            "start": offer.booking.start.astimezone(UTC).isoformat(),
            "end": offer.booking.end.astimezone(UTC).isoformat(),
            "courtroom": offer.booking.courtroom,
            "active": offer.booking.active,
        },
    }


def window_json(w: Window) -> dict[str, Any]:
    return {
        "id": w.id,
        "mediator": w.mediator_name,
        "mediator_key": w.mediator_key,
        "start": w.start.astimezone(UTC).isoformat(),
        "end": w.end.astimezone(UTC).isoformat(),
        "created_by": w.created_by,
    }
