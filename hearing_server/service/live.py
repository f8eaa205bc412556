"""Live hearings: joining, leaving and the presiding judge's moves of people between rooms.

Built from presence (who is connected, ``presence.py``), rooms (``placement.py``) and the media
plan (``media_plan.py``). This is the in-process state of the embedded default (one machine).
Participant state is also written to the store, so staff views and a restarted server see it;
rooms and connections are rebuilt as participants reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import fields, replace
from typing import Any

from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEvent
from hearing_server.core.errors import Conflict, Forbidden, NotFound
from hearing_server.core.hearing import Hearing, HearingState
from hearing_server.core.oath import SWORN_ROLES
from hearing_server.core.participant import (
    ALWAYS_WAIT_ROLES,
    Participant,
    ParticipantState,
    Role,
)
from hearing_server.core.permissions import Action, authorize, can
from hearing_server.core.rooms import RoomRegistry, RoomType

from .events import ParticipantChanged
from .hearings import HearingService, participant_to_json
from .media_plan import MediaPlan, PlanListener, plan_media
from .placement import HearingRooms
from .presence import Presence

log = logging.getLogger(__name__)

JOINABLE_STATES = frozenset(
    {HearingState.OPEN, HearingState.IN_SESSION, HearingState.PAUSED, HearingState.SUSPENDED}
)


__all__ = ["JOINABLE_STATES", "ClearanceCheck", "LiveHearings", "MediaPlan", "PlanListener"]

ClearanceCheck = Callable[[Participant], Awaitable[bool]]
"""Whether a participant has passed the identity step (``IdentityGate.cleared``)."""

# Where a participant may be once cleared; anyone else who joins waits in the identity step.
_PAST_IDENTITY = frozenset({ParticipantState.WAITING, ParticipantState.IN_HEARING})


class LiveHearings:
    """Presence and room moves for every live hearing on this node."""

    def __init__(
        self,
        service: HearingService,
        *,
        disconnect_grace_s: float,
        identity_cleared: ClearanceCheck,
    ) -> None:
        self._service = service
        self._cleared = identity_cleared
        self._grace_s = disconnect_grace_s
        self._rooms = HearingRooms()
        self._presence = Presence()
        self._plan_listeners: list[PlanListener] = []
        # hearing id -> the media id of the server-composed view, when one is running
        self._composites: dict[str, str] = {}
        # participant id -> the lock that orders their record's writes and announcements
        self._write_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def on_media_plan(self, listener: PlanListener) -> None:
        self._plan_listeners.append(listener)

    # -- reading ----------------------------------------------------------------------------

    @property
    def service(self) -> HearingService:
        """The hearing service these live hearings record through."""
        return self._service

    def registry(self, hearing: Hearing) -> RoomRegistry:
        return self._rooms.registry(hearing)

    def existing_registry(self, hearing_id: str) -> RoomRegistry | None:
        """The rooms of ``hearing_id`` if anyone has joined it on this node."""
        return self._rooms.existing(hearing_id)

    def room_of(self, hearing_id: str, pid: str) -> str | None:
        return self._rooms.room_of(hearing_id, pid)

    def hearing_of(self, pid: str) -> str | None:
        """The hearing a connected participant is in, if any."""
        return self._presence.hearing_of(pid)

    def connection_of(self, pid: str) -> str | None:
        """The id of the participant's current connection, if they are connected."""
        return self._presence.connection_of(pid)

    def live_hearing_ids(self) -> frozenset[str]:
        """The hearings someone is connected to on this node."""
        return self._presence.hearing_ids()

    def is_connected(self, hearing_id: str, pid: str) -> bool:
        return self._presence.is_connected(hearing_id, pid)

    async def hearing_room_members(self, hearing_id: str) -> dict[str, Participant]:
        """Those connected and in the hearing room now: everyone who watches it (captions
        reach them all, observers and the courtroom display included)."""
        participants = await self._service.store.list_participants(hearing_id)
        return {
            p.id: p
            for p in participants
            if p.state is ParticipantState.IN_HEARING
            and self.room_of(hearing_id, p.id) == RoomType.HEARING.value
            and self.is_connected(hearing_id, p.id)
        }

    async def hearing_room_speakers(self, hearing_id: str) -> dict[str, Participant]:
        """The members of the hearing room who may speak: the people who are seen, heard,
        recorded and transcribed. Observers (and the courtroom display) watch and listen
        only: no tile, nothing to record or transcribe."""
        registry = self.existing_registry(hearing_id)
        if registry is None:
            return {}
        return {
            pid: p
            for pid, p in (await self.hearing_room_members(hearing_id)).items()
            if can(p.role, Action.SPEAK, registry.kind)
        }

    async def check_publisher(self, actor: Actor, hearing_id: str) -> None:
        """Refuse a publish offer from someone who may neither speak nor show video (an
        observer, the courtroom display): they watch and listen only."""
        hearing = await self._service.store.get_hearing(hearing_id)
        try:
            authorize(actor, Action.SPEAK, hearing)
        except Forbidden:
            authorize(actor, Action.PUBLISH_VIDEO, hearing)

    async def set_composite(self, hearing_id: str, media_id: str | None) -> None:
        """The courtroom display receives ``media_id`` (the composed view) instead of tiles."""
        if media_id is None:
            self._composites.pop(hearing_id, None)
        else:
            self._composites[hearing_id] = media_id
        await self.publish_plan(hearing_id)

    def media_plan(self, hearing_id: str, participants: list[Participant]) -> MediaPlan:
        """Who receives whom in ``hearing_id`` now (see :func:`plan_media`)."""
        return plan_media(
            hearing_id,
            self._rooms.existing(hearing_id),
            self._presence.connected(hearing_id),
            participants,
            self._composites.get(hearing_id),
        )

    # -- internals --------------------------------------------------------------------------

    async def save_change(
        self,
        before: Participant,
        after: Participant,
        actor: Actor,
        event: AuditEvent | None,
        data: dict[str, Any] | None = None,
    ) -> Participant:
        """Store ``after`` (whose room the caller has already set), audit ``event``, tell
        everyone and apply the media plan. Every move of a participant ends here.

        The caller read ``before`` some awaits ago; another change to the same person may
        have landed since (a reconnect while the hand goes up). Only the fields this change
        made are written over the stored record, and the write and its announcement happen
        under the person's lock, so neither change is lost and the last announcement is the
        stored record."""
        changed = {
            f.name: getattr(after, f.name)
            for f in fields(Participant)
            if getattr(after, f.name) != getattr(before, f.name)
        }
        lock = self._write_locks.setdefault(after.id, asyncio.Lock())
        async with lock:
            current = await self._service.store.get_participant(after.id)
            after = replace(current, **changed) if changed else current
            await self._service.store.update_participant(after)
            if event is not None:
                await self._service.audit(
                    after.hearing_id, actor, event, {"participant_id": after.id, **(data or {})}
                )
            await self._service.events.publish(
                ParticipantChanged(
                    after.hearing_id,
                    {
                        **participant_to_json(after),
                        "room": self.room_of(after.hearing_id, after.id),
                        "connected": self.is_connected(after.hearing_id, after.id),
                        "previous_state": before.state.value,
                    },
                )
            )
        await self.publish_plan(after.hearing_id)
        return after

    async def publish_plan(self, hearing_id: str) -> None:
        if not self._plan_listeners:
            return
        participants = await self._service.store.list_participants(hearing_id)
        plan = self.media_plan(hearing_id, participants)
        for listener in self._plan_listeners:
            try:
                await listener(plan)
            except Exception:
                log.exception("media plan listener failed for hearing %s", hearing_id)

    async def _load(self, hearing_id: str, pid: str) -> tuple[Hearing, Participant]:
        hearing = await self._service.store.get_hearing(hearing_id)
        participant = await self._service.store.get_participant(pid)
        if participant.hearing_id != hearing_id:
            raise NotFound(f"no participant {pid} in this hearing")
        return hearing, participant

    # -- connection lifecycle ---------------------------------------------------------------

    async def join(self, hearing_id: str, pid: str, connection_id: str) -> Participant:
        """A participant connects: back where they were, or into the waiting/hearing room.

        ``connection_id`` becomes their current connection, replacing any earlier one.
        """
        if self._presence.closed:
            raise Conflict("server is shutting down")
        hearing, p = await self._load(hearing_id, pid)
        if hearing.state not in JOINABLE_STATES:
            code = "hearing_closed" if hearing.is_terminal else "hearing_not_open"
            raise Conflict(f"the hearing is {hearing.state.value}", code=code)
        if p.removed:
            raise Forbidden("you were removed from this hearing", code="removed")
        reg = self.registry(hearing)
        self._presence.connect(hearing_id, pid, connection_id)
        actor = Actor(id=pid, role=p.role, hearing_id=hearing_id)
        in_session = hearing.state is HearingState.IN_SESSION
        if p.state is ParticipantState.DISCONNECTED and p.resume_state is not None:
            after = p.reconnect()
            if after.state is ParticipantState.IN_CONSULTATION and not _in_private(reg, pid):
                # Their private room closed while they were away: the waiting room.
                after = replace(after, state=ParticipantState.WAITING)
            if after.state is ParticipantState.IDENTIFYING and await self._cleared(after):
                after = after.move(after.entry_state(in_session))
            self._place(reg, pid, after.state)
            return await self.save_change(p, after, actor, AuditEvent.RECONNECTED)
        if p.state in (
            ParticipantState.WAITING,
            ParticipantState.IN_HEARING,
            ParticipantState.IN_CONSULTATION,
            ParticipantState.JOINING,
            ParticipantState.IDENTIFYING,
        ):
            # A second connection (e.g. a page reload) or a restarted server: keep the state,
            # except that private rooms and half-finished joins do not survive it.
            kept: ParticipantState = p.state
            if kept is ParticipantState.IN_CONSULTATION and not _in_private(reg, pid):
                kept = ParticipantState.WAITING
            elif kept is ParticipantState.JOINING:
                kept = await self._gated(p, p.entry_state(in_session))
            elif kept is ParticipantState.IDENTIFYING and await self._cleared(p):
                kept = p.entry_state(in_session)
            self._place(reg, pid, kept)
            return await self.save_change(p, replace(p, state=kept), actor, None)
        joining = p.move(ParticipantState.JOINING)
        after = joining.move(await self._gated(joining, joining.entry_state(in_session)))
        self._place(reg, pid, after.state)
        data: dict[str, Any] = {"room": self.room_of(hearing_id, pid)}
        if after.state is ParticipantState.IDENTIFYING:
            data["identity"] = "pending"
        return await self.save_change(p, after, actor, AuditEvent.JOINED, data)

    async def _gated(self, p: Participant, target: ParticipantState) -> ParticipantState:
        """``target``, or the identity step while ``p`` is not cleared (docs/domain.md
        "Identity"): the server, not the client, decides who leaves it."""
        if target in _PAST_IDENTITY and not await self._cleared(p):
            return ParticipantState.IDENTIFYING
        return target

    def _place(self, reg: RoomRegistry, pid: str, state: ParticipantState) -> None:
        if state is ParticipantState.IDENTIFYING:
            # In no room at all: nobody's media reaches them and theirs reaches nobody.
            reg.remove(pid)
        elif state is ParticipantState.IN_CONSULTATION and _in_private(reg, pid):
            # Back in the caucus or consultation they dropped out of, which kept their place.
            return
        else:
            self._rooms.place(reg, pid, state)

    async def identity_cleared(self, hearing_id: str, pid: str) -> Participant | None:
        """``pid`` passed the identity step (or was verified or waived): if they are waiting
        in it, they go where joining would have put them. Someone not connected goes on when
        they next join."""
        hearing, p = await self._load(hearing_id, pid)
        if p.state is not ParticipantState.IDENTIFYING or not self.is_connected(hearing_id, pid):
            return None
        after = p.move(p.entry_state(hearing.state is HearingState.IN_SESSION))
        self._place(self.registry(hearing), pid, after.state)
        return await self.save_change(
            p, after, Actor.system(), AuditEvent.JOINED, {"room": self.room_of(hearing_id, pid)}
        )

    async def leave(self, hearing_id: str, pid: str) -> Participant:
        """The participant left on purpose."""
        hearing, p = await self._load(hearing_id, pid)
        return await self._gone(
            hearing, p, Actor(id=pid, role=p.role, hearing_id=hearing_id), AuditEvent.LEFT
        )

    async def _gone(
        self,
        hearing: Hearing,
        p: Participant,
        actor: Actor,
        event: AuditEvent,
        data: dict[str, Any] | None = None,
        *,
        removed: bool = False,
    ) -> Participant:
        self._presence.forget(hearing.id, p.id)
        self._presence.cancel_grace(p.id)
        reg = self.registry(hearing)
        reg.remove(p.id)
        if p.state is ParticipantState.LEFT and not removed:
            return p
        after = replace(
            p,
            state=ParticipantState.LEFT,
            resume_state=None,
            hand_raised=False,
            hand_raised_at=None,
            removed=p.removed or removed,
        )
        return await self.save_change(p, after, actor, event, data)

    async def disconnect(self, hearing_id: str, pid: str, connection_id: str) -> None:
        """The connection dropped: keep their place for the grace period.

        A connection that was already replaced by a newer one changes nothing.
        """
        if self._presence.connection_of(pid) != connection_id:
            return
        self._presence.forget(hearing_id, pid)
        try:
            _, p = await self._load(hearing_id, pid)
        except NotFound:
            return
        if p.state not in (
            ParticipantState.WAITING,
            ParticipantState.IN_HEARING,
            ParticipantState.IN_CONSULTATION,
            ParticipantState.JOINING,
            ParticipantState.IDENTIFYING,
        ):
            await self.publish_plan(hearing_id)
            return
        after = p.move(ParticipantState.DISCONNECTED)
        await self.save_change(p, after, Actor.system(), AuditEvent.DISCONNECTED)
        self._presence.start_grace(pid, self._expire_grace(hearing_id, pid))

    async def _expire_grace(self, hearing_id: str, pid: str) -> None:
        try:
            await asyncio.sleep(self._grace_s)
            self._presence.grace_ended(pid)
            hearing, p = await self._load(hearing_id, pid)
            if p.state is ParticipantState.DISCONNECTED:
                await self._gone(
                    hearing,
                    p,
                    Actor.system(),
                    AuditEvent.LEFT,
                    {"reason": "disconnect grace period ended"},
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("grace expiry failed for participant %s", pid)

    # -- judicial actions -------------------------------------------------------------------

    async def admit(self, actor: Actor, hearing_id: str, pid: str) -> Participant:
        """Bring a waiting participant into the hearing room (witnesses: call them in)."""
        hearing, p = await self._load(hearing_id, pid)
        is_witness = p.role in ALWAYS_WAIT_ROLES - {Role.OBSERVER}
        authorize(actor, Action.CALL_WITNESS if is_witness else Action.ADMIT, hearing)
        if p.state is ParticipantState.IDENTIFYING:
            raise Conflict(
                f"{p.display_name} has not passed the identity check: the clerk verifies or "
                "the judge waives it first",
                code="identity_pending",
            )
        if p.state is not ParticipantState.WAITING:
            raise Conflict(f"{p.display_name} is not waiting ({p.state.value})")
        after = p.move(ParticipantState.IN_HEARING)
        self.registry(hearing).move(pid, self.registry(hearing).hearing_room_id)
        event = AuditEvent.WITNESS_CALLED if is_witness else AuditEvent.ADMITTED
        return await self.save_change(p, after, actor, event)

    async def return_to_waiting(self, actor: Actor, hearing_id: str, pid: str) -> Participant:
        """Send someone from the hearing room back to the waiting room (witness: dismissed)."""
        hearing, p = await self._load(hearing_id, pid)
        is_witness = p.role in ALWAYS_WAIT_ROLES - {Role.OBSERVER}
        authorize(actor, Action.CALL_WITNESS if is_witness else Action.RETURN_TO_WAITING, hearing)
        if p.state not in (ParticipantState.IN_HEARING, ParticipantState.IN_CONSULTATION):
            raise Conflict(f"{p.display_name} is not in the hearing ({p.state.value})")
        if p.role in (Role.JUDGE, Role.MEDIATOR, Role.COURTROOM_DISPLAY):
            raise Conflict("the presiding judge and the courtroom display stay in the room")
        after = p.move(ParticipantState.WAITING)
        reg = self.registry(hearing)
        reg.move(pid, reg.waiting_room_id)
        if is_witness:
            return await self.save_change(
                p, after, actor, AuditEvent.WITNESS_DISMISSED, {"to": "waiting"}
            )
        return await self.save_change(p, after, actor, AuditEvent.RETURNED_TO_WAITING)

    async def take_oath(self, actor: Actor, hearing_id: str) -> Participant:
        """A witness or expert, called in, gives the undertaking (core/oath.py). Once is
        enough: a recalled witness stays bound by it."""
        hearing, p = await self._load(hearing_id, actor.id)
        authorize(actor, Action.TAKE_OATH, hearing)
        if p.state is not ParticipantState.IN_HEARING:
            raise Conflict("the undertaking is given in the hearing room", code="not_called")
        if p.sworn_at is not None:
            return p
        after = replace(p, sworn_at=self._service.now())
        return await self.save_change(p, after, actor, AuditEvent.WITNESS_SWORN)

    async def dismiss_witness(
        self, actor: Actor, hearing_id: str, pid: str, to: str
    ) -> Participant:
        """Dismiss a witness or expert: back to the waiting room (``to="waiting"``), or out of
        the hearing (``"out"``: they leave, their link still works, so they can be recalled
        when they join again)."""
        hearing, p = await self._load(hearing_id, pid)
        authorize(actor, Action.CALL_WITNESS, hearing)
        if p.role not in SWORN_ROLES:
            raise Conflict(f"{p.display_name} is not a witness or an expert", code="not_a_witness")
        if to == "waiting":
            return await self.return_to_waiting(actor, hearing_id, pid)
        if p.state not in (
            ParticipantState.WAITING,
            ParticipantState.IN_HEARING,
            ParticipantState.IN_CONSULTATION,
            ParticipantState.DISCONNECTED,
        ):
            raise Conflict(f"{p.display_name} is not in the hearing ({p.state.value})")
        return await self._gone(hearing, p, actor, AuditEvent.WITNESS_DISMISSED, {"to": "out"})

    async def remove(self, actor: Actor, hearing_id: str, pid: str) -> Participant:
        """Remove a participant from the hearing; their link stops working."""
        hearing, p = await self._load(hearing_id, pid)
        authorize(actor, Action.REMOVE, hearing)
        if actor.id == pid:
            raise Conflict("use leave to leave the hearing")
        return await self._gone(hearing, p, actor, AuditEvent.REMOVED, removed=True)

    async def set_mute(
        self, actor: Actor, hearing_id: str, pid: str, *, muted: bool, lock: bool | None = None
    ) -> Participant:
        """Mute or unmute; only the judge mutes others or locks/unlocks a mute."""
        hearing, p = await self._load(hearing_id, pid)
        self_service = actor.id == pid
        if not self_service or lock is not None:
            authorize(actor, Action.LOCK_MUTE if lock is not None else Action.MUTE_OTHERS, hearing)
        if self_service and not muted and p.mute_locked:
            raise Forbidden("the judge has locked your microphone", code="mute_locked")
        if not self_service and not muted and lock is None and p.mute_locked:
            lock = False  # the judge unmuting someone releases the lock too
        after = replace(p, audio_muted=muted, mute_locked=p.mute_locked if lock is None else lock)
        if after == p:
            return p
        event = AuditEvent.MUTED if muted else AuditEvent.UNMUTED
        return await self.save_change(
            p, after, actor, event, {"by": actor.id, "locked": after.mute_locked}
        )

    async def raise_hand(self, actor: Actor, hearing_id: str, raised: bool) -> Participant:
        """Raise or lower one's own hand. Raising it again changes nothing: a hand keeps its
        place in the queue, so pressing the button repeatedly neither floods the log nor
        jumps the queue."""
        hearing, p = await self._load(hearing_id, actor.id)
        authorize(actor, Action.RAISE_HAND, hearing)
        if p.hand_raised == raised:
            return p
        after = replace(
            p, hand_raised=raised, hand_raised_at=self._service.now() if raised else None
        )
        event = AuditEvent.HAND_RAISED if raised else AuditEvent.HAND_LOWERED
        return await self.save_change(p, after, actor, event)

    async def lower_hand(self, actor: Actor, hearing_id: str, pid: str) -> Participant:
        """The presiding judge lowers someone's hand without giving them the floor."""
        hearing, p = await self._load(hearing_id, pid)
        authorize(actor, Action.GRANT_FLOOR, hearing)
        if not p.hand_raised:
            raise Conflict(f"{p.display_name} has no hand raised", code="hand_not_raised")
        after = replace(p, hand_raised=False, hand_raised_at=None)
        return await self.save_change(p, after, actor, AuditEvent.HAND_LOWERED, {"by": actor.id})

    async def grant_floor(self, actor: Actor, hearing_id: str, pid: str) -> Participant:
        """Give someone in the hearing room the floor: their hand goes down, their microphone
        opens (a mute lock is released) and the courtroom display and recording show them in
        the large tile."""
        hearing, p = await self._load(hearing_id, pid)
        authorize(actor, Action.GRANT_FLOOR, hearing)
        if p.state is not ParticipantState.IN_HEARING or (
            self.room_of(hearing_id, pid) != RoomType.HEARING.value
        ):
            raise Conflict(f"{p.display_name} is not in the hearing room ({p.state.value})")
        if not can(p.role, Action.SPEAK, hearing.kind):
            raise Conflict(f"{p.display_name} watches only and cannot speak", code="not_shown")
        after = replace(
            p, hand_raised=False, hand_raised_at=None, audio_muted=False, mute_locked=False
        )
        saved = await self.save_change(p, after, actor, AuditEvent.FLOOR_GRANTED, {"by": actor.id})
        await self._service.set_spotlight(actor, hearing_id, pid)
        return saved

    async def close(self) -> None:
        """Cancel grace timers. Idempotent."""
        await self._presence.close()


def _in_private(reg: RoomRegistry, pid: str) -> bool:
    """Whether ``pid`` still holds a place in an open private room (a caucus keeps the place
    of someone whose connection dropped, so that they come back into it)."""
    room = reg.room_of(pid)
    return room is not None and room.is_private
