"""Rooms of every live hearing on this node: one RoomRegistry per hearing."""

from __future__ import annotations

from hearing_server.core.hearing import Hearing
from hearing_server.core.participant import ParticipantState
from hearing_server.core.rooms import RoomRegistry


class HearingRooms:
    """Where each participant is (hearing room, waiting room, consultation, caucus)."""

    def __init__(self) -> None:
        self._registries: dict[str, RoomRegistry] = {}

    def registry(self, hearing: Hearing) -> RoomRegistry:
        reg = self._registries.get(hearing.id)
        if reg is None:
            reg = RoomRegistry(hearing.id, kind=hearing.kind)
            self._registries[hearing.id] = reg
        return reg

    def existing(self, hearing_id: str) -> RoomRegistry | None:
        return self._registries.get(hearing_id)

    def room_of(self, hearing_id: str, pid: str) -> str | None:
        reg = self._registries.get(hearing_id)
        room = reg.room_of(pid) if reg else None
        return room.type.value if room else None

    @staticmethod
    def place(reg: RoomRegistry, pid: str, state: ParticipantState) -> None:
        """Put ``pid`` in the room their state calls for: the hearing room or the waiting room."""
        room_id = {
            ParticipantState.IN_HEARING: reg.hearing_room_id,
            ParticipantState.WAITING: reg.waiting_room_id,
        }.get(state, reg.waiting_room_id)
        if reg.room_of(pid) is None:
            reg.place(pid, room_id)
        else:
            reg.move(pid, room_id)
