"""The media plan: who receives whose media, and whose audio is not forwarded.

Derived, never stored: from the hearing's rooms, who is connected, and the permission table for
the hearing's kind. The media layer applies it (``wiring/bridges.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from hearing_server.core.participant import Participant, ParticipantState, Role
from hearing_server.core.permissions import Action, can
from hearing_server.core.rooms import RoomRegistry, media_peers


@dataclass(frozen=True, slots=True)
class MediaPlan:
    """What the media layer should do for one hearing: routes and who is muted."""

    hearing_id: str
    routes: Mapping[str, frozenset[str]]  # subscriber -> publishers it receives
    audio_muted: frozenset[str]  # publishers whose audio is not forwarded


PlanListener = Callable[[MediaPlan], Awaitable[None]]


def plan_media(
    hearing_id: str,
    registry: RoomRegistry | None,
    connected: Iterable[str],
    participants: list[Participant],
    composite: str | None,
) -> MediaPlan:
    """Who receives whom: same room only, connected only, per the permission table.

    The courtroom display receives the composed view (``composite``) when one is running.
    Someone still in the identity step receives nothing and reaches nobody, whatever room the
    registry may hold them in.
    """
    by_id = {p.id: p for p in participants}
    identifying = {p.id for p in participants if p.state is ParticipantState.IDENTIFYING}
    live = set(connected)
    routes: dict[str, frozenset[str]] = {}
    for pid in live:
        p = by_id.get(pid)
        if (
            registry is None
            or p is None
            or pid in identifying
            or not can(p.role, Action.RECEIVE_MEDIA, registry.kind)
        ):
            routes[pid] = frozenset()
            continue
        if p.role is Role.COURTROOM_DISPLAY and composite is not None:
            routes[pid] = frozenset({composite})
            continue
        routes[pid] = frozenset(
            other
            for other in (media_peers(registry, pid) & live) - identifying
            if other in by_id and can(by_id[other].role, Action.PUBLISH_VIDEO, registry.kind)
        )
    muted = frozenset(p.id for p in participants if p.audio_muted)
    return MediaPlan(hearing_id, routes, muted)
