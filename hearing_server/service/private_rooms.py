"""Private rooms: caucus rooms of a mediation (背对背调解: the mediator meets one side alone)
and consultation rooms (a party and their counsel in private).

The rooms themselves (who may enter, one caucus per side, one party per consultation, locks,
closing when empty) are the :class:`~hearing_server.core.rooms.RoomRegistry`'s rules; this
service moves people through them, records it and tells everyone. What keeps a private room
confidential follows from where people are: the media plan routes media only within a room, and
the composite, the recording and the transcription take only the people in the hearing room.
The audit log records that a room was opened and closed, with whom and for how long, and
nothing said.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEvent
from hearing_server.core.errors import Conflict, Forbidden, NotFound, ValidationError
from hearing_server.core.hearing import Hearing, HearingState
from hearing_server.core.participant import Participant, ParticipantState, PartySide, Role
from hearing_server.core.permissions import Action, authorize
from hearing_server.core.rooms import Room, RoomRegistry, RoomType, participant_state_for

from .events import (
    ConsultationChanged,
    HearingChanged,
    ParticipantChanged,
    RoomsChanged,
    ServiceEvent,
)
from .live import LiveHearings

log = logging.getLogger(__name__)

MAX_TIMER_MINUTES = 240
_ENDED = frozenset({"closed", "adjourned"})

# Who goes into a side's caucus: the people who speak for that side.
_SIDE_ROLES = frozenset({Role.PARTY, Role.COUNSEL, Role.INTERPRETER})


def room_to_json(room: Room, now: datetime) -> dict[str, Any]:
    """A private room as clients see it: ``elapsed_s`` for "meeting the other side 12 min"."""
    return {
        "id": room.id,
        "type": room.type.value,
        "side": room.side.value if room.side else None,
        "owner": room.owner,
        "members": sorted(room.members),
        "mediator_present": room.owner is not None and room.owner in room.members,
        "opened_at": room.opened_at.isoformat() if room.opened_at else None,
        "elapsed_s": (
            max(0, int((now - room.opened_at).total_seconds())) if room.opened_at else None
        ),
        "timer_ends_at": room.timer_ends_at.isoformat() if room.timer_ends_at else None,
        "timer_expired": room.timer_expired(now),
        "locked": room.locked,
        "party_id": room.party_id,
    }


@dataclass(frozen=True, slots=True)
class ConsultationRequest:
    """A consultation asked for and not yet answered by anyone."""

    id: str
    hearing_id: str
    requester: str
    invitees: tuple[str, ...]
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "requester": self.requester,
            "invitees": list(self.invitees),
            "at": self.at.isoformat(),
        }


class PrivateRooms:
    """Opens, enters and closes caucus and consultation rooms; owns the caucus timers and the
    consultation requests not yet answered."""

    def __init__(
        self,
        live: LiveHearings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._live = live
        self._service = live.service
        self._now = clock
        self._timers: dict[tuple[str, str], asyncio.Task[None]] = {}
        # What each hearing's clients were last told, so that a disconnect or a leave that
        # changes a room (or closes an emptied one) is announced exactly once.
        self._announced: dict[str, tuple[dict[str, Any], ...]] = {}
        self._requests: dict[str, ConsultationRequest] = {}
        self._closed = False

    # -- reading ----------------------------------------------------------------------------

    def rooms(self, hearing_id: str) -> list[dict[str, Any]]:
        """The open private rooms of ``hearing_id`` as JSON (empty when there are none)."""
        reg = self._live.existing_registry(hearing_id)
        if reg is None:
            return []
        now = self._now()
        return [room_to_json(r, now) for r in reg.rooms() if r.is_private]

    # -- the mediator's moves -----------------------------------------------------------------

    async def open_caucus(
        self,
        actor: Actor,
        hearing_id: str,
        side: PartySide,
        *,
        timer_minutes: int | None = None,
    ) -> dict[str, Any]:
        """Open a caucus with ``side``: that side's people in the joint session and the
        mediator move into it. Returns the room as JSON."""
        hearing, mediator, reg = await self._mediator(actor, hearing_id)
        ends_at = self._timer_end(timer_minutes)
        everyone = await self._service.store.list_participants(hearing_id)
        members = _side_present(
            [
                p
                for p in everyone
                if p.role in _SIDE_ROLES
                and p.state is ParticipantState.IN_HEARING
                and self._live.room_of(hearing_id, p.id) == RoomType.HEARING.value
            ],
            side,
        )
        if not members:
            raise Conflict(
                f"nobody of the {side.value} side is in the joint session", code="nobody_there"
            )
        before = {p.id: p for p in [mediator, *members]}
        room = reg.open_caucus(
            mediator, side, members, timer_ends_at=ends_at, opened_at=self._now()
        )
        await self._service.audit(
            hearing_id,
            actor,
            AuditEvent.CAUCUS_OPENED,
            {
                "room_id": room.id,
                "side": side.value,
                "members": sorted(room.members),
                "timer_minutes": timer_minutes,
            },
        )
        self._arm_timer(hearing_id, room)
        await self._announce(hearing_id, "opened")
        await self._moved(hearing, before, actor, reg)
        return room_to_json(reg.room(room.id), self._now())

    async def enter(self, actor: Actor, hearing_id: str, room_id: str) -> dict[str, Any]:
        """The mediator moves into ``room_id``: a caucus room, or back to the joint session
        (the hearing room). Returns where they are as JSON."""
        hearing, mediator, reg = await self._mediator(actor, hearing_id)
        target = reg.room(room_id)
        if target.type not in (RoomType.CAUCUS, RoomType.HEARING):
            raise Conflict("the mediator moves between caucus rooms and the joint session")
        reg.move(mediator.id, room_id)
        await self._service.audit(
            hearing_id,
            actor,
            AuditEvent.CAUCUS_ENTERED,
            {"room_id": room_id, "side": target.side.value if target.side else None},
        )
        await self._announce(hearing_id, "moved")
        await self._moved(hearing, {mediator.id: mediator}, actor, reg)
        return {"room": room_id, "rooms": self.rooms(hearing_id)}

    async def close_caucus(self, actor: Actor, hearing_id: str, room_id: str) -> dict[str, Any]:
        """Close a caucus: everyone in it returns to the joint session."""
        hearing, _, reg = await self._mediator(actor, hearing_id)
        room = reg.room(room_id)
        if room.type is not RoomType.CAUCUS:
            raise Conflict(f"room {room_id!r} is not a caucus room")
        participants = {p.id: p for p in await self._service.store.list_participants(hearing_id)}
        before = {pid: participants[pid] for pid in room.members if pid in participants}
        reg.close_room(room_id, to=reg.hearing_room_id)
        self._cancel_timer(hearing_id, room_id)
        duration = int((self._now() - room.opened_at).total_seconds()) if room.opened_at else None
        await self._service.audit(
            hearing_id,
            actor,
            AuditEvent.CAUCUS_CLOSED,
            {
                "room_id": room_id,
                "side": room.side.value if room.side else None,
                "members": sorted(room.members),
                "duration_s": duration,
            },
        )
        await self._announce(hearing_id, "closed")
        await self._moved(hearing, before, actor, reg)
        return {"rooms": self.rooms(hearing_id)}

    async def set_timer(
        self, actor: Actor, hearing_id: str, room_id: str, minutes: int | None
    ) -> dict[str, Any]:
        """Set (or clear, with None) the advisory timer of a caucus room."""
        _, _, reg = await self._mediator(actor, hearing_id)
        if reg.room(room_id).type is not RoomType.CAUCUS:
            raise Conflict(f"room {room_id!r} is not a caucus room")
        room = reg.set_timer(room_id, self._timer_end(minutes))
        self._cancel_timer(hearing_id, room_id)
        self._arm_timer(hearing_id, room)
        await self._service.audit(
            hearing_id, actor, AuditEvent.CAUCUS_TIMER_SET, {"room_id": room_id, "minutes": minutes}
        )
        await self._announce(hearing_id, "timer")
        return room_to_json(room, self._now())

    # -- consultation rooms -----------------------------------------------------------------

    async def request_consultation(
        self, actor: Actor, hearing_id: str, participant_ids: list[str]
    ) -> dict[str, Any]:
        """A party or their counsel asks the others of their party (counsel, interpreters) for
        a private consultation; nobody moves until one of them accepts."""
        hearing = await self._service.store.get_hearing(hearing_id)
        authorize(actor, Action.REQUEST_CONSULTATION, hearing)
        reg = self._live.registry(hearing)
        requester = await self._present(hearing_id, reg, actor.id)
        if not participant_ids or len(participant_ids) > 5:
            raise ValidationError("name 1 to 5 people to consult", code="invalid_field")
        invitees = [await self._present(hearing_id, reg, pid) for pid in participant_ids]
        reg.check_consultation(requester, invitees)
        request = ConsultationRequest(
            id=f"cr-{secrets.token_hex(6)}",
            hearing_id=hearing_id,
            requester=requester.id,
            invitees=tuple(p.id for p in invitees),
            at=self._now(),
        )
        self._requests[request.id] = request
        await self._service.audit(
            hearing_id,
            actor,
            AuditEvent.CONSULTATION_REQUESTED,
            {"request_id": request.id, "invitees": list(request.invitees)},
        )
        await self._tell(request, "requested")
        return {"request": request.to_json()}

    async def answer_consultation(
        self, actor: Actor, hearing_id: str, request_id: str, accept: bool
    ) -> dict[str, Any]:
        """An invitee accepts (the requester and they move into a new consultation room) or
        declines (the requester is told)."""
        request = self._requests.get(request_id)
        if request is None or request.hearing_id != hearing_id:
            raise NotFound("no such consultation request (answered or withdrawn already)")
        if actor.id not in request.invitees:
            raise Forbidden("this request is not for you", code="not_invited")
        hearing = await self._service.store.get_hearing(hearing_id)
        del self._requests[request_id]
        if not accept:
            await self._service.audit(
                hearing_id, actor, AuditEvent.CONSULTATION_REJECTED, {"request_id": request_id}
            )
            await self._tell(request, "declined", by=actor.id)
            return {"request": request.to_json(), "accepted": False}
        reg = self._live.registry(hearing)
        requester = await self._present(hearing_id, reg, request.requester)
        invitees = [await self._present(hearing_id, reg, pid) for pid in request.invitees]
        me = next(p for p in invitees if p.id == actor.id)
        interpreters = await self._interpreters_of(hearing_id, reg, [requester, me])
        room = reg.open_consultation(
            requester, _unique([*invitees, *interpreters]), opened_at=self._now()
        )
        for p in (me, *interpreters):
            reg.accept_invitation(p.id, room.id)
        members = {p.id: p for p in (requester, me, *interpreters)}
        await self._service.audit(
            hearing_id,
            actor,
            AuditEvent.CONSULTATION_ACCEPTED,
            {"request_id": request_id, "room_id": room.id, "members": sorted(members)},
        )
        await self._tell(request, "accepted", by=actor.id, room_id=room.id)
        await self._announce(hearing_id, "opened")
        await self._moved(hearing, members, actor, reg)
        return {"room": room_to_json(reg.room(room.id), self._now())}

    async def allow_consultation(
        self, actor: Actor, hearing_id: str, request_id: str
    ) -> dict[str, Any]:
        """During a pause, the presiding judge lets a pending request go ahead without waiting
        for an answer: the requester and everyone they asked move into the room together."""
        hearing = await self._service.store.get_hearing(hearing_id)
        authorize(actor, Action.ADMIT, hearing)
        request = self._requests.get(request_id)
        if request is None or request.hearing_id != hearing_id:
            raise NotFound("no such consultation request (answered or withdrawn already)")
        if hearing.state is not HearingState.PAUSED:
            raise Conflict(
                "the judge allows a consultation while the hearing is paused", code="not_paused"
            )
        reg = self._live.registry(hearing)
        requester = await self._present(hearing_id, reg, request.requester)
        invitees = [await self._present(hearing_id, reg, pid) for pid in request.invitees]
        del self._requests[request_id]
        interpreters = await self._interpreters_of(hearing_id, reg, [requester, *invitees])
        everyone = _unique([*invitees, *interpreters])
        room = reg.open_consultation(requester, everyone, opened_at=self._now())
        for p in everyone:
            reg.accept_invitation(p.id, room.id)
        members = {requester.id: requester, **{p.id: p for p in everyone}}
        await self._service.audit(
            hearing_id,
            actor,
            AuditEvent.CONSULTATION_ACCEPTED,
            {
                "request_id": request_id,
                "room_id": room.id,
                "members": sorted(members),
                "allowed_by_judge": True,
            },
        )
        await self._tell(request, "accepted", by=actor.id, room_id=room.id)
        await self._announce(hearing_id, "opened")
        await self._moved(hearing, members, actor, reg)
        return {"room": room_to_json(reg.room(room.id), self._now())}

    async def join_consultation(
        self, actor: Actor, hearing_id: str, room_id: str
    ) -> dict[str, Any]:
        """Someone invited to an open consultation (another counsel, an interpreter) joins."""
        hearing = await self._service.store.get_hearing(hearing_id)
        reg = self._live.registry(hearing)
        me = await self._present(hearing_id, reg, actor.id)
        reg.accept_invitation(actor.id, room_id)
        await self._announce(hearing_id, "moved")
        await self._moved(hearing, {me.id: me}, actor, reg)
        return {"room": room_to_json(reg.room(room_id), self._now())}

    async def lock_consultation(
        self, actor: Actor, hearing_id: str, room_id: str, locked: bool
    ) -> dict[str, Any]:
        """Someone in a consultation locks it (nobody else enters) or unlocks it."""
        hearing = await self._service.store.get_hearing(hearing_id)
        room = self._live.registry(hearing).set_locked(room_id, locked, by=actor.id)
        await self._announce(hearing_id, "locked")
        return {"room": room_to_json(room, self._now())}

    async def leave_private(self, actor: Actor, hearing_id: str) -> dict[str, Any]:
        """Leave the consultation (or caucus) one is in, back to where one came from; the
        room closes when its last member leaves."""
        hearing = await self._service.store.get_hearing(hearing_id)
        reg = self._live.registry(hearing)
        me = await self._service.store.get_participant(actor.id)
        room = reg.room_of(actor.id)
        back = reg.leave_private(actor.id)
        if room is not None and room.id not in {r.id for r in reg.rooms()}:
            await self._closed_audit(hearing_id, actor, room)
        await self._announce(hearing_id, "moved")
        await self._moved(hearing, {me.id: me}, actor, reg)
        return {"room": back.type.value}

    async def end_consultation(self, actor: Actor, hearing_id: str, room_id: str) -> dict[str, Any]:
        """The presiding judge calls a consultation back: its members return where they came
        from (the judge sees that a consultation is under way, never what is said in it)."""
        hearing = await self._service.store.get_hearing(hearing_id)
        authorize(actor, Action.ADMIT, hearing)
        reg = self._live.registry(hearing)
        room = reg.room(room_id)
        if room.type is not RoomType.CONSULTATION:
            raise Conflict(f"room {room_id!r} is not a consultation room")
        participants = {p.id: p for p in await self._service.store.list_participants(hearing_id)}
        before = {pid: participants[pid] for pid in room.members if pid in participants}
        reg.close_room(room_id)
        await self._closed_audit(hearing_id, actor, room)
        await self._announce(hearing_id, "closed")
        await self._moved(hearing, before, actor, reg)
        return {"rooms": self.rooms(hearing_id)}

    async def _present(self, hearing_id: str, reg: RoomRegistry, pid: str) -> Participant:
        """``pid`` of this hearing, connected and in the hearing or waiting room."""
        p = await self._service.store.get_participant(pid)
        if p.hearing_id != hearing_id:
            raise NotFound(f"no participant {pid} in this hearing")
        room = reg.room_of(pid)
        if not self._live.is_connected(hearing_id, pid) or room is None or room.is_private:
            raise Conflict(f"{p.display_name} is not available", code="not_available")
        return p

    async def _interpreters_of(
        self, hearing_id: str, reg: RoomRegistry, moving: list[Participant]
    ) -> list[Participant]:
        """The interpreters of those moving into a consultation who are here (connected, in
        the hearing or waiting room): a party who needs an interpreter cannot consult without
        them, so they go in together. An interpreter elsewhere stays where they are."""
        ids = {p.id for p in moving}
        return [
            p
            for p in await self._service.store.list_participants(hearing_id)
            if p.role is Role.INTERPRETER
            and p.interprets_for in ids
            and p.id not in ids
            and self._live.is_connected(hearing_id, p.id)
            and (room := reg.room_of(p.id)) is not None
            and not room.is_private
        ]

    async def _closed_audit(self, hearing_id: str, actor: Actor, room: Room) -> None:
        duration = int((self._now() - room.opened_at).total_seconds()) if room.opened_at else None
        event = (
            AuditEvent.CAUCUS_CLOSED
            if room.type is RoomType.CAUCUS
            else AuditEvent.CONSULTATION_ENDED
        )
        await self._service.audit(
            hearing_id,
            actor,
            event,
            {"room_id": room.id, "members": sorted(room.admitted), "duration_s": duration},
        )

    async def _tell(self, request: ConsultationRequest, status: str, **extra: Any) -> None:
        await self._service.events.publish(
            ConsultationChanged(
                request.hearing_id,
                (request.requester, *request.invitees),
                {"status": status, "request": request.to_json(), **extra},
            )
        )

    # -- keeping clients in step ------------------------------------------------------------

    async def on_service_event(self, event: ServiceEvent) -> None:
        """A participant moved, left or dropped out: announce the rooms if that changed them
        (e.g. the last member of a caucus left and it closed)."""
        if isinstance(event, ParticipantChanged) and event.hearing_id in self._announced:
            await self._announce(event.hearing_id, "moved", only_if_changed=True)
        elif isinstance(event, HearingChanged) and event.data.get("state") in _ENDED:
            # The session is over: its timers stop and nothing more is announced.
            self._announced.pop(event.hearing_id, None)
            for hid, room_id in [k for k in self._timers if k[0] == event.hearing_id]:
                self._cancel_timer(hid, room_id)

    async def close(self) -> None:
        """Cancel every timer. Idempotent."""
        self._closed = True
        timers = list(self._timers.values())
        self._timers.clear()
        for task in timers:
            task.cancel()
        for task in timers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- internals --------------------------------------------------------------------------

    async def _mediator(
        self, actor: Actor, hearing_id: str
    ) -> tuple[Hearing, Participant, RoomRegistry]:
        hearing = await self._service.store.get_hearing(hearing_id)
        authorize(actor, Action.OPEN_CAUCUS, hearing)
        if actor.role is not Role.MEDIATOR or actor.hearing_id != hearing_id:
            raise Forbidden(
                "only the mediator in the session moves people into caucus rooms",
                code="not_mediator",
            )
        mediator = await self._service.store.get_participant(actor.id)
        if not self._live.is_connected(hearing_id, mediator.id):
            raise Conflict("join the session first", code="not_connected")
        reg = self._live.registry(hearing)
        if reg.room_of(mediator.id) is None:
            raise Conflict("the mediator is in no room yet", code="not_in_room")
        return hearing, mediator, reg

    async def _moved(
        self,
        hearing: Hearing,
        before: dict[str, Participant],
        actor: Actor,
        reg: RoomRegistry,
    ) -> None:
        """Bring each moved participant's stored state in line with the room they are in now
        (the registry has already moved them), and apply the media plan once per person."""
        for pid, p in before.items():
            room = reg.room_of(pid)
            if room is None:
                continue
            state = participant_state_for(room.type)
            if state is p.state:
                # Same state, other room (mediator between two caucuses): still announced,
                # since the room is part of what everyone sees.
                await self._live.save_change(p, p, actor, None, {"room": room.type.value})
                continue
            await self._live.save_change(p, p.move(state), actor, None)

    async def _announce(
        self, hearing_id: str, reason: str, *, only_if_changed: bool = False
    ) -> None:
        rooms = tuple(self.rooms(hearing_id))
        previous = self._announced.get(hearing_id)
        if only_if_changed and previous is not None and _same_rooms(previous, rooms):
            return
        self._announced[hearing_id] = rooms
        await self._service.events.publish(RoomsChanged(hearing_id, reason, rooms))

    def _timer_end(self, minutes: int | None) -> datetime | None:
        if minutes is None:
            return None
        if not 1 <= minutes <= MAX_TIMER_MINUTES:
            raise ValidationError(
                f"a caucus timer runs 1 to {MAX_TIMER_MINUTES} minutes", code="invalid_timer"
            )
        return self._now() + timedelta(minutes=minutes)

    def _arm_timer(self, hearing_id: str, room: Room) -> None:
        if room.timer_ends_at is None or self._closed:
            return
        key = (hearing_id, room.id)
        task = asyncio.create_task(self._ring(hearing_id, room.id, room.timer_ends_at))
        self._timers[key] = task
        task.add_done_callback(functools.partial(self._forget_timer, key))

    def _forget_timer(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        if self._timers.get(key) is task:
            del self._timers[key]

    def _cancel_timer(self, hearing_id: str, room_id: str) -> None:
        task = self._timers.pop((hearing_id, room_id), None)
        if task is not None:
            task.cancel()

    async def _ring(self, hearing_id: str, room_id: str, ends_at: datetime) -> None:
        try:
            # Checked against the clock every second rather than one long sleep, so that the
            # end follows the service's clock (wall time), not the event loop's.
            while (remaining := (ends_at - self._now()).total_seconds()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(min(remaining, 1.0))
            reg = self._live.existing_registry(hearing_id)
            if reg is None:
                return
            try:
                room = reg.room(room_id)
            except NotFound:
                return  # closed meanwhile
            if room.timer_ends_at != ends_at:
                return  # the timer was changed meanwhile
            await self._announce(hearing_id, "timer_expired")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("caucus timer of room %s in hearing %s failed", room_id, hearing_id)


def _side_present(present: list[Participant], side: PartySide) -> list[Participant]:
    """Those of ``present`` who speak for ``side``: its parties, counsel for one of them and
    interpreters for one of those. Counsel whose party is not there stay (a caucus is with
    the party; the registry refuses counsel without them)."""
    chosen = {p.id: p for p in present if p.role is Role.PARTY and p.side is side}
    chosen |= {
        p.id: p for p in present if p.role is Role.COUNSEL and (p.represents or "") in chosen
    }
    chosen |= {
        p.id: p
        for p in present
        if p.role is Role.INTERPRETER and (p.interprets_for or "") in chosen
    }
    return list(chosen.values())


def _unique(people: list[Participant]) -> list[Participant]:
    """``people`` without repeats (an interpreter may also have been asked by name)."""
    return list({p.id: p for p in people}.values())


def _same_rooms(a: tuple[dict[str, Any], ...], b: tuple[dict[str, Any], ...]) -> bool:
    # elapsed_s moves on by itself; it is no reason to tell everyone again.
    def key(rooms: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rooms]

    return key(a) == key(b)


__all__ = ["MAX_TIMER_MINUTES", "PrivateRooms", "room_to_json"]
