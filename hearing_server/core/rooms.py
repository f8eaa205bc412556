"""Rooms of one hearing and who is in which.

Every hearing has two fixed rooms, the hearing room (the court) and the waiting room, and any
number of private rooms that come and go: consultation rooms (a party and their counsel) and,
in a mediation, caucus rooms (the mediator with one side alone).

Design: :class:`Room` values are immutable snapshots; :class:`RoomRegistry` is mutable but
encapsulated: it owns the only copy of "who is where", changes it only through its methods,
and each method either applies a whole change or raises a
:class:`~hearing_server.core.errors.DomainError` and changes nothing. One registry per
hearing, used from one event loop; it is not thread-safe.

The registry enforces the rules of the rooms themselves (one room per participant, private
rooms admit only the people they were opened for, a locked room admits nobody new, empty
private rooms close). Whether someone may be admitted to the hearing room, returned to the
waiting room and so on is a permission question for :mod:`hearing_server.core.permissions`,
asked by the caller before it moves anyone.

A disconnected participant keeps their place, so that they come back to the same room; the
caller removes them when they leave or their grace period runs out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from .errors import Conflict, Forbidden, NotFound, ValidationError
from .hearing import HearingKind
from .participant import Participant, ParticipantState, PartySide, Role, party_side_of
from .permissions import Action, require


class RoomType(StrEnum):
    """The kinds of room (docs/domain.md "Rooms")."""

    HEARING = "hearing"
    WAITING = "waiting"
    CONSULTATION = "consultation"
    CAUCUS = "caucus"


PRIVATE_ROOM_TYPES = frozenset({RoomType.CONSULTATION, RoomType.CAUCUS})

_STATE_FOR_ROOM: dict[RoomType, ParticipantState] = {
    RoomType.HEARING: ParticipantState.IN_HEARING,
    RoomType.WAITING: ParticipantState.WAITING,
    RoomType.CONSULTATION: ParticipantState.IN_CONSULTATION,
    # A caucus is a private session away from the hearing room, like a consultation.
    RoomType.CAUCUS: ParticipantState.IN_CONSULTATION,
}


def participant_state_for(room_type: RoomType) -> ParticipantState:
    """The participant state that matches being in a room of ``room_type``."""
    return _STATE_FOR_ROOM[room_type]


@dataclass(frozen=True, slots=True)
class Room:
    """An immutable snapshot of one room.

    ``owner`` is whoever opened a private room (the requester of a consultation, the mediator
    of a caucus). ``admitted`` holds everyone a private room may take in: its owner, the
    people it was opened for, and those who accepted an invitation. ``invited`` holds the
    invitations not yet answered. ``party_id`` is the party a consultation belongs to;
    ``side`` the side a caucus is for. ``timer_ends_at`` is an optional, advisory end time;
    ``opened_at`` when a private room was opened (for "meeting the other side for 12 min").
    """

    id: str
    type: RoomType
    hearing_id: str
    members: frozenset[str] = frozenset()
    locked: bool = False
    owner: str | None = None
    side: PartySide | None = None
    party_id: str | None = None
    admitted: frozenset[str] = frozenset()
    invited: frozenset[str] = frozenset()
    timer_ends_at: datetime | None = None
    opened_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValidationError("room id must not be empty")
        _require_aware("opened_at", self.opened_at)
        if self.timer_ends_at is not None and self.timer_ends_at.tzinfo is None:
            raise ValidationError("timer_ends_at must carry a timezone", code="invalid_date")
        if self.side is not None and self.type is not RoomType.CAUCUS:
            raise ValidationError("only a caucus room is for one side")
        if self.locked and self.type is not RoomType.CONSULTATION:
            raise ValidationError("only a consultation room can be locked")

    @property
    def is_private(self) -> bool:
        """True for consultation and caucus rooms."""
        return self.type in PRIVATE_ROOM_TYPES

    def timer_expired(self, now: datetime) -> bool:
        """True if the room has a timer and ``now`` is at or past its end."""
        _require_aware("now", now)
        return self.timer_ends_at is not None and now >= self.timer_ends_at


class RoomRegistry:
    """Who is in which room of one hearing. Each participant is in at most one room.

    Participants are named by id. Methods that need to know who someone is (their role,
    the party they represent) take :class:`~hearing_server.core.participant.Participant`
    values; the registry does not keep them, since they change elsewhere.
    """

    def __init__(
        self,
        hearing_id: str,
        *,
        kind: HearingKind = HearingKind.HEARING,
        hearing_room_id: str = "hearing",
        waiting_room_id: str = "waiting",
    ) -> None:
        if not hearing_id:
            raise ValidationError("hearing_id must not be empty")
        if hearing_room_id == waiting_room_id:
            raise ValidationError("the hearing and waiting rooms need different ids")
        self._hearing_id = hearing_id
        self._kind = kind
        self._hearing_room_id = hearing_room_id
        self._waiting_room_id = waiting_room_id
        self._rooms: dict[str, Room] = {
            hearing_room_id: Room(hearing_room_id, RoomType.HEARING, hearing_id),
            waiting_room_id: Room(waiting_room_id, RoomType.WAITING, hearing_id),
        }
        self._location: dict[str, str] = {}
        # Where someone in a private room came from, so they can go back there.
        self._origin: dict[str, str] = {}
        self._counter = 0

    # -- reading ---------------------------------------------------------------------------

    @property
    def hearing_id(self) -> str:
        """The hearing these rooms belong to."""
        return self._hearing_id

    @property
    def kind(self) -> HearingKind:
        """Hearing or mediation: caucus rooms exist only in a mediation."""
        return self._kind

    @property
    def hearing_room_id(self) -> str:
        """Id of the hearing room (the court)."""
        return self._hearing_room_id

    @property
    def waiting_room_id(self) -> str:
        """Id of the waiting room."""
        return self._waiting_room_id

    def room(self, room_id: str) -> Room:
        """The room ``room_id`` or :class:`NotFound` (private rooms vanish once closed)."""
        try:
            return self._rooms[room_id]
        except KeyError:
            raise NotFound(f"no room {room_id!r} in hearing {self._hearing_id}") from None

    def rooms(self) -> tuple[Room, ...]:
        """Every open room, the hearing and waiting rooms first, then in order of opening."""
        return tuple(self._rooms.values())

    def room_of(self, pid: str) -> Room | None:
        """The room ``pid`` is in, or None if they are in none."""
        room_id = self._location.get(pid)
        return None if room_id is None else self._rooms[room_id]

    def origin_of(self, pid: str) -> str | None:
        """For someone in a private room: the hearing or waiting room they came from."""
        return self._origin.get(pid) if pid in self._location else None

    def participants(self) -> frozenset[str]:
        """Everyone who is in some room."""
        return frozenset(self._location)

    def caucus_for(self, side: PartySide) -> Room | None:
        """The open caucus room of ``side``, if any."""
        for room in self._rooms.values():
            if room.type is RoomType.CAUCUS and room.side is side:
                return room
        return None

    def expired_timers(self, now: datetime) -> tuple[Room, ...]:
        """Rooms whose timer has run out at ``now`` (the caller decides what follows)."""
        _require_aware("now", now)
        return tuple(r for r in self._rooms.values() if r.timer_expired(now))

    # -- moving people ---------------------------------------------------------------------

    def place(self, pid: str, room_id: str) -> Room:
        """Put ``pid``, who is in no room yet, into ``room_id``; returns the room after.

        Raises :class:`Conflict` if ``pid`` is already in a room (use :meth:`move`) or the
        room is locked, :class:`Forbidden` if it is a private room not opened for them.
        """
        if not pid:
            raise ValidationError("participant id must not be empty")
        if pid in self._location:
            raise Conflict(f"{pid} is already in room {self._location[pid]!r}")
        target = self.room(room_id)
        self._check_entry(pid, target)
        return self._enter(pid, target, came_from=None)

    def move(self, pid: str, room_id: str) -> Room:
        """Move ``pid`` from their room into ``room_id``; returns the room they are now in.

        Moving into the room one is already in changes nothing. A private room left empty
        closes. Raises :class:`NotFound` if ``pid`` is in no room, and the errors of
        :meth:`place` for the target.
        """
        current = self._location.get(pid)
        if current is None:
            raise NotFound(f"{pid} is not in any room")
        target = self.room(room_id)
        if current == room_id:
            return target
        self._check_entry(pid, target)
        self._leave(pid)
        return self._enter(pid, target, came_from=current)

    def remove(self, pid: str) -> str | None:
        """Take ``pid`` out of every room (they left the hearing); returns the room they were
        in, or None. Their unanswered invitations lapse."""
        for room in list(self._rooms.values()):
            if pid in room.invited:
                self._rooms[room.id] = replace(
                    room, invited=room.invited - {pid}, admitted=room.admitted - {pid}
                )
        was = self._location.get(pid)
        if was is not None:
            self._leave(pid)
        self._origin.pop(pid, None)
        return was

    def leave_private(self, pid: str) -> Room:
        """Send ``pid`` from a private room back to the room they came from (the waiting
        room if that is unknown); returns that room."""
        room = self.room_of(pid)
        if room is None:
            raise NotFound(f"{pid} is not in any room")
        if not room.is_private:
            raise Conflict(f"{pid} is not in a private room")
        return self.move(pid, self._origin.get(pid, self._waiting_room_id))

    def close_room(self, room_id: str, *, to: str | None = None) -> dict[str, str]:
        """Close a private room, sending each member to ``to`` (the hearing or waiting
        room) or else back where they came from. Returns member id -> room id they went to.
        """
        room = self.room(room_id)
        if not room.is_private:
            raise Conflict(f"room {room_id!r} cannot be closed")
        if to is not None and self.room(to).is_private:
            raise ValidationError("members of a closed room go to the hearing or waiting room")
        moved: dict[str, str] = {}
        for pid in sorted(room.members):
            dest = to if to is not None else self._origin.get(pid, self._waiting_room_id)
            moved[pid] = self.move(pid, dest).id
        # The last member's move has already closed it; the pop is only a safety net.
        self._rooms.pop(room_id, None)
        return moved

    # -- consultation rooms ----------------------------------------------------------------

    def open_consultation(
        self,
        requester: Participant,
        invitees: Collection[Participant],
        *,
        room_id: str | None = None,
        locked: bool = False,
        opened_at: datetime | None = None,
    ) -> Room:
        """Open a consultation room for a party and their counsel; returns the new room.

        The requester (a party or counsel, who must be in a room) moves in at once; each
        invitee is invited and enters on :meth:`accept_invitation`. Everyone must belong to
        one party: that party, counsel who represent them (``represents``), and interpreters
        for someone in the group. Raises :class:`Forbidden` for anyone else,
        :class:`ValidationError` for an empty, repeated or foreign list, :class:`NotFound`
        if the requester is in no room and :class:`Conflict` if ``room_id`` is taken.
        """
        party_id = self.check_consultation(requester, invitees)
        group = self._group(requester, invitees, "a consultation needs at least one invitee")
        if requester.id not in self._location:
            raise NotFound(f"{requester.id} is not in any room")
        room = Room(
            id=self._new_room_id("consultation", room_id),
            type=RoomType.CONSULTATION,
            hearing_id=self._hearing_id,
            locked=locked,
            owner=requester.id,
            party_id=party_id,
            admitted=frozenset(group),
            invited=frozenset(p.id for p in invitees),
            opened_at=opened_at,
        )
        self._rooms[room.id] = room
        # Entered directly rather than through move(): a room opened locked must still
        # take in the one who opened it.
        came_from = self._location[requester.id]
        self._leave(requester.id)
        return self._enter(requester.id, room, came_from=came_from)

    def check_consultation(
        self, requester: Participant, invitees: Collection[Participant]
    ) -> str:
        """Raise as :meth:`open_consultation` would for this group, changing nothing; returns
        the party the consultation would belong to (a request is checked when it is made)."""
        require(requester.role, Action.REQUEST_CONSULTATION, self._kind)
        group = self._group(requester, invitees, "a consultation needs at least one invitee")
        return _one_party(group)

    def invite(self, room_id: str, invitee: Participant, *, by: str) -> Room:
        """Invite one more person of the same party into a consultation room.

        ``by`` must be in the room. Raises :class:`Conflict` for a caucus or a locked room
        and :class:`Forbidden` for someone outside the party.
        """
        room = self.room(room_id)
        if room.type is not RoomType.CONSULTATION:
            raise Conflict("only a consultation room takes invitations")
        if by not in room.members:
            raise Forbidden("only someone in the room may invite")
        self._check_hearing(invitee)
        if room.locked:
            raise Conflict(f"room {room_id!r} is locked")
        if invitee.id in room.members or invitee.id in room.invited:
            return room
        if not _belongs_to(invitee, room.party_id, room.admitted):
            raise Forbidden(f"{invitee.id} is not on the side of party {room.party_id}")
        room = replace(
            room, invited=room.invited | {invitee.id}, admitted=room.admitted | {invitee.id}
        )
        self._rooms[room_id] = room
        return room

    def accept_invitation(self, pid: str, room_id: str) -> Room:
        """``pid`` accepts their invitation and enters the room; returns the room after.

        Raises :class:`NotFound` without a pending invitation (or if the room closed) and
        :class:`Conflict` if the room was locked meanwhile.
        """
        room = self.room(room_id)
        if pid not in room.invited:
            raise NotFound(f"{pid} has no invitation to room {room_id!r}")
        if pid in self._location:
            return self.move(pid, room_id)
        return self.place(pid, room_id)

    def decline_invitation(self, pid: str, room_id: str) -> Room:
        """``pid`` declines their invitation; returns the room after."""
        room = self.room(room_id)
        if pid not in room.invited:
            raise NotFound(f"{pid} has no invitation to room {room_id!r}")
        room = replace(room, invited=room.invited - {pid}, admitted=room.admitted - {pid})
        self._rooms[room_id] = room
        return room

    def set_locked(self, room_id: str, locked: bool, *, by: str) -> Room:
        """Lock or unlock a consultation room. Only someone in it may; a locked room admits
        nobody who is not already in it, invited or not."""
        room = self.room(room_id)
        if room.type is not RoomType.CONSULTATION:
            raise Conflict("only a consultation room can be locked")
        if by not in room.members:
            raise Forbidden("only someone in the room may lock or unlock it")
        room = replace(room, locked=locked)
        self._rooms[room_id] = room
        return room

    # -- caucus rooms ----------------------------------------------------------------------

    def open_caucus(
        self,
        mediator: Participant,
        side: PartySide,
        members: Collection[Participant],
        *,
        room_id: str | None = None,
        timer_ends_at: datetime | None = None,
        mediator_joins: bool = True,
        opened_at: datetime | None = None,
    ) -> Room:
        """Open a caucus room for one side of a mediation and move that side into it.

        ``members`` are the side's parties (``side`` must match), counsel representing one
        of those parties and interpreters for one of the group; counsel must therefore come
        with the party they represent. All must be in a room already. The mediator moves in
        too unless ``mediator_joins`` is false (the side then waits in its own room), and
        later moves between caucus rooms with :meth:`move`. Only the mediator and the
        members may ever enter. One caucus per side at a time.
        """
        require(mediator.role, Action.OPEN_CAUCUS, self._kind)
        group = self._group(mediator, members, "a caucus needs at least one member")
        del group[mediator.id]
        for p in group.values():
            if not _on_side(p, side, group):
                raise Forbidden(f"{p.id} is not on the {side.value} side")
        if self.caucus_for(side) is not None:
            raise Conflict(f"the {side.value} side already has a caucus room")
        movers = list(group) + ([mediator.id] if mediator_joins else [])
        for pid in movers:
            if pid not in self._location:
                raise NotFound(f"{pid} is not in any room")
        room = Room(
            id=self._new_room_id("caucus", room_id),
            type=RoomType.CAUCUS,
            hearing_id=self._hearing_id,
            owner=mediator.id,
            side=side,
            admitted=frozenset(group) | {mediator.id},
            timer_ends_at=timer_ends_at,
            opened_at=opened_at,
        )
        self._rooms[room.id] = room
        for pid in movers:
            self.move(pid, room.id)
        return self._rooms[room.id]

    def set_timer(self, room_id: str, ends_at: datetime | None) -> Room:
        """Set or clear the advisory timer of a private room."""
        room = self.room(room_id)
        if not room.is_private:
            raise Conflict("only a private room has a timer")
        room = replace(room, timer_ends_at=ends_at)
        self._rooms[room_id] = room
        return room

    # -- internals -------------------------------------------------------------------------

    def _check_hearing(self, p: Participant) -> None:
        if p.hearing_id != self._hearing_id:
            raise ValidationError(
                f"{p.id} belongs to hearing {p.hearing_id}, not {self._hearing_id}",
                code="wrong_hearing",
            )

    def _group(
        self, lead: Participant, others: Collection[Participant], empty_message: str
    ) -> dict[str, Participant]:
        if not others:
            raise ValidationError(empty_message)
        group: dict[str, Participant] = {lead.id: lead}
        for p in (lead, *others):
            self._check_hearing(p)
        for p in others:
            if p.id in group:
                raise ValidationError(f"{p.id} is listed twice")
            group[p.id] = p
        return group

    def _new_room_id(self, prefix: str, wanted: str | None) -> str:
        if wanted is not None:
            if not wanted:
                raise ValidationError("room id must not be empty")
            if wanted in self._rooms:
                raise Conflict(f"room {wanted!r} already exists")
            return wanted
        while True:
            # Deterministic ids keep the registry pure and its tests reproducible; they are
            # unique within a hearing, which is all a room id needs to be.
            self._counter += 1
            candidate = f"{prefix}-{self._counter}"
            if candidate not in self._rooms:
                return candidate

    def _check_entry(self, pid: str, room: Room) -> None:
        if not room.is_private or pid in room.members:
            return
        if pid not in room.admitted:
            raise Forbidden(f"{pid} may not enter room {room.id!r}")
        if room.locked:
            raise Conflict(f"room {room.id!r} is locked")

    def _leave(self, pid: str) -> None:
        room = self._rooms[self._location.pop(pid)]
        members = room.members - {pid}
        if room.is_private and not members:
            # Closing with the last leaver means nobody can find, or be left holding, an
            # invitation to an empty private room.
            del self._rooms[room.id]
        else:
            self._rooms[room.id] = replace(room, members=members)

    def _enter(self, pid: str, room: Room, *, came_from: str | None) -> Room:
        room = replace(room, members=room.members | {pid}, invited=room.invited - {pid})
        self._rooms[room.id] = room
        self._location[pid] = room.id
        if not room.is_private:
            self._origin.pop(pid, None)
        elif came_from is None or not self._is_public_room_id(came_from):
            # From nowhere or from another private room: keep the public room they had left,
            # or fall back to the waiting room.
            self._origin.setdefault(pid, self._waiting_room_id)
        else:
            self._origin[pid] = came_from
        return room

    def _is_public_room_id(self, room_id: str) -> bool:
        return room_id in (self._hearing_room_id, self._waiting_room_id)


def media_peers(registry: RoomRegistry, pid: str) -> frozenset[str]:
    """The participants whose media ``pid`` may receive: the others in the same room.

    Nobody in the waiting room receives anything, and nobody outside a room receives media
    from inside it. (Whether a participant publishes at all is a permission question.)
    """
    room = registry.room_of(pid)
    if room is None or room.type is RoomType.WAITING:
        return frozenset()
    return room.members - {pid}


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ValidationError(f"{name} must carry a timezone", code="invalid_date")


def _camp(p: Participant, group: Mapping[str, Participant]) -> str | None:
    """The party ``p`` speaks for within ``group``, or None if they belong to no party."""
    if p.role is Role.PARTY:
        return p.id
    if p.role is Role.COUNSEL:
        return p.represents
    if p.role is Role.INTERPRETER:
        target = group.get(p.interprets_for or "")
        # Interpreters for interpreters would let a chain wander off the party.
        if target is None or target.role is Role.INTERPRETER:
            return None
        return _camp(target, group)
    return None


def _one_party(group: Mapping[str, Participant]) -> str:
    camps = {pid: _camp(p, group) for pid, p in group.items()}
    outsiders = sorted(pid for pid, camp in camps.items() if camp is None)
    if outsiders:
        raise Forbidden(
            "a consultation is only for a party, their counsel and interpreters: "
            + ", ".join(outsiders)
        )
    parties = set(camps.values())
    if len(parties) != 1:
        raise Forbidden("a consultation is private to one party and their counsel")
    party = parties.pop()
    assert party is not None  # outsiders were rejected above
    return party


def _belongs_to(p: Participant, party_id: str | None, admitted: frozenset[str]) -> bool:
    if p.role is Role.PARTY:
        return p.id == party_id
    if p.role is Role.COUNSEL:
        return p.represents is not None and p.represents == party_id
    if p.role is Role.INTERPRETER:
        return p.interprets_for is not None and p.interprets_for in admitted
    return False


def _on_side(p: Participant, side: PartySide, group: Mapping[str, Participant]) -> bool:
    return party_side_of(p, group) is side
