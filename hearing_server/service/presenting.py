"""Presenting evidence in the hearing room: one exhibit at a time on every screen, following
the presenter (docs/evidence.md "Presenting").

The court presents at any time; a party or counsel presents when the presiding judge has given
them the floor to (one person at a time; the judge withdraws it or someone else gets it).
The presenter turns pages, zooms, points, plays and pauses; everyone in the hearing room, the
courtroom display and the composite (so the recording and the livestream) follow. Nothing is
shown in the waiting room or a private room: the people there are not recipients, and a
presenter who leaves the hearing room stops presenting.

The state lives on the node that holds the hearing's media (like the rooms); it is announced
whole on every change (``PresentationChanged``), so a client that missed one catches up with
the next, and someone entering the room is sent the current state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Protocol

from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEvent
from hearing_server.core.errors import Conflict, Forbidden, NotFound, ValidationError
from hearing_server.core.evidence import COURT_ROLES, Exhibit
from hearing_server.core.hearing import HearingState
from hearing_server.core.participant import ParticipantState
from hearing_server.core.permissions import Action, authorize, can
from hearing_server.core.rooms import RoomType

from .events import HearingChanged, ParticipantChanged, PresentationChanged, ServiceEvent
from .evidence import EvidenceService
from .live import LiveHearings

MIN_ZOOM, MAX_ZOOM = 1.0, 4.0


class ScreenPort(Protocol):
    """The SFU as presenting needs it: whose screen is published, and holding one back."""

    def screen_track_id(self, pid: str) -> str | None: ...

    def set_screen_forwarding(self, pid: str, enabled: bool) -> None: ...


@dataclass(frozen=True, slots=True)
class Showing:
    """What is on every screen: an exhibit and where the presenter is in it, or the
    presenter's shared screen (``screen_track``, with no exhibit)."""

    exhibit: Exhibit | None
    presenter_id: str
    presenter_name: str
    page: int = 1
    zoom: float = 1.0
    # the point of the page at the centre of the view, 0..1 each way (zoomed views)
    center: tuple[float, float] = (0.5, 0.5)
    pointer: tuple[float, float] | None = None  # the presenter's pointer, 0..1 each way
    playing: bool = False  # audio and video exhibits
    position_s: float = 0.0  # where playback was at ``at_ms``
    at_ms: int = 0  # server time (ms since the epoch) of ``position_s``
    seq: int = 0  # every change counts up: a client drops a stale one
    screen_track: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "exhibit": self.exhibit.to_json() if self.exhibit else None,
            # the presenter's screen arrives at subscribers in the stream "<pid>~screen"
            "screen": {"stream_id": f"{self.presenter_id}~screen", "track_id": self.screen_track}
            if self.screen_track
            else None,
            "presenter_id": self.presenter_id,
            "presenter_name": self.presenter_name,
            "page": self.page,
            "zoom": self.zoom,
            "center": list(self.center),
            "pointer": list(self.pointer) if self.pointer else None,
            "playing": self.playing,
            "position_s": self.position_s,
            "at_ms": self.at_ms,
            "seq": self.seq,
        }


@dataclass(slots=True)
class _Stage:
    showing: Showing | None = None
    granted_to: str | None = None  # the party or counsel who may present now
    seq: int = 0


def _point(value: Any, name: str) -> tuple[float, float]:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        or not all(0.0 <= float(v) <= 1.0 for v in value)
    ):
        raise ValidationError(f"{name} is [x, y] with both in 0..1")
    return float(value[0]), float(value[1])


class PresentingService:
    """Who may present, what is shown, and who follows it, per hearing on this node."""

    def __init__(
        self, live: LiveHearings, evidence: EvidenceService, screens: ScreenPort | None = None
    ) -> None:
        self._live = live
        self._screens = screens
        self._hearings = live.service
        self._evidence = evidence
        self._stages: dict[str, _Stage] = {}

    def _stage(self, hearing_id: str) -> _Stage:
        return self._stages.setdefault(hearing_id, _Stage())

    def showing(self, hearing_id: str) -> Showing | None:
        """What is presented in ``hearing_id`` now, if anything."""
        stage = self._stages.get(hearing_id)
        return stage.showing if stage else None

    def state(self, hearing_id: str) -> dict[str, Any]:
        """The whole presentation state as announced."""
        stage = self._stages.get(hearing_id) or _Stage()
        return {
            "granted_to": stage.granted_to,
            "showing": stage.showing.to_json() if stage.showing else None,
        }

    async def state_for(self, actor: Actor, hearing_id: str) -> dict[str, Any] | None:
        """The state for someone in the hearing room (``None`` elsewhere: nothing is shown
        in the waiting room or a private room)."""
        hearing = await self._hearings.store.get_hearing(hearing_id)
        authorize(actor, Action.VIEW_EVIDENCE, hearing)
        if actor.role is not None and not self._in_room(hearing_id, actor.id):
            return None
        return self.state(hearing_id)

    def _in_room(self, hearing_id: str, pid: str) -> bool:
        return self._live.room_of(hearing_id, pid) == RoomType.HEARING.value

    async def _recipients(self, hearing_id: str, *also: str | None) -> tuple[str, ...]:
        members = set(await self._live.hearing_room_members(hearing_id))
        members.update(p for p in also if p)
        return tuple(sorted(members))

    async def _announce(self, hearing_id: str, *also: str | None) -> None:
        await self._hearings.events.publish(
            PresentationChanged(
                hearing_id, await self._recipients(hearing_id, *also), self.state(hearing_id)
            )
        )

    async def _presenter(self, actor: Actor, hearing_id: str) -> str:
        """Check that ``actor`` may present now; returns their display name."""
        hearing = await self._hearings.store.get_hearing(hearing_id)
        authorize(actor, Action.PRESENT_EVIDENCE, hearing)
        if hearing.state is not HearingState.IN_SESSION:
            raise Conflict("evidence is presented while the hearing is in session")
        if actor.role is None:
            raise Forbidden("present from the hearing room", code="not_in_hearing_room")
        p = await self._hearings.store.get_participant(actor.id)
        if p.state is not ParticipantState.IN_HEARING or not self._in_room(hearing_id, p.id):
            raise Conflict("present from the hearing room", code="not_in_hearing_room")
        stage = self._stage(hearing_id)
        if actor.role not in COURT_ROLES and stage.granted_to != actor.id:
            raise Forbidden(
                "the presiding judge has not given you the floor to present", code="not_granted"
            )
        return p.display_name

    async def grant(self, actor: Actor, hearing_id: str, pid: str | None) -> dict[str, Any]:
        """Give a party or counsel in the hearing room the floor to present (``None``:
        withdraw it). Whoever had it and is presenting stops."""
        hearing = await self._hearings.store.get_hearing(hearing_id)
        authorize(actor, Action.GRANT_PRESENTING, hearing)
        stage = self._stage(hearing_id)
        before = stage.granted_to
        if pid is not None:
            p = await self._hearings.store.get_participant(pid)
            if p.hearing_id != hearing_id:
                raise NotFound(f"no participant {pid} in this hearing")
            if not can(p.role, Action.PRESENT_EVIDENCE, hearing.kind) or p.role in COURT_ROLES:
                raise ValidationError(f"{p.display_name} does not present evidence")
            if p.state is not ParticipantState.IN_HEARING or not self._in_room(hearing_id, pid):
                raise Conflict(f"{p.display_name} is not in the hearing room")
        if before == pid:
            return self.state(hearing_id)
        stage.granted_to = pid
        if stage.showing is not None and stage.showing.presenter_id == before:
            await self._end(actor, hearing_id, "floor_withdrawn")
        event = AuditEvent.PRESENTING_GRANTED if pid else AuditEvent.PRESENTING_WITHDRAWN
        await self._hearings.audit(
            hearing_id, actor, event, {"participant_id": pid or before, "by": actor.id}
        )
        await self._announce(hearing_id, before)
        return self.state(hearing_id)

    async def present(
        self, actor: Actor, hearing_id: str, exhibit_id: str, page: int = 1
    ) -> dict[str, Any]:
        """Put an exhibit on every screen in the hearing room."""
        name = await self._presenter(actor, hearing_id)
        # Only what the presenter may see: their side's own, or what was released or shown.
        exhibit = await self._evidence.exhibit(actor, exhibit_id)
        if exhibit.hearing_id != hearing_id:
            raise NotFound(f"no exhibit {exhibit_id}")
        if not exhibit.current:
            raise Conflict(f"{exhibit.label} was corrected: present its current version")
        pages = exhibit.pages or 1
        if not 1 <= page <= pages:
            raise ValidationError(f"{exhibit.label} has {pages} page(s)")
        exhibit = await self._evidence.mark_presented(actor, exhibit)
        stage = self._stage(hearing_id)
        if stage.showing is not None and stage.showing.screen_track is not None:
            await self._end(actor, hearing_id, "replaced")
        stage.seq += 1
        stage.showing = Showing(exhibit, actor.id, name, page=page, at_ms=_now_ms(), seq=stage.seq)
        await self._hearings.audit(
            hearing_id,
            actor,
            AuditEvent.EVIDENCE_PRESENTED,
            {
                "exhibit_id": exhibit.id,
                "label": exhibit.label,
                "title": exhibit.title,
                "sha256": exhibit.sha256,
                "presenter": name,
            },
        )
        await self._announce(hearing_id)
        return self.state(hearing_id)

    async def present_screen(self, actor: Actor, hearing_id: str) -> dict[str, Any]:
        """Put the presenter's shared screen (published first, as a screen section) on every
        screen in the hearing room; the composite shows it large."""
        name = await self._presenter(actor, hearing_id)
        track = self._screens.screen_track_id(actor.id) if self._screens else None
        if track is None:
            raise Conflict("share your screen first", code="no_screen")
        assert self._screens is not None
        self._screens.set_screen_forwarding(actor.id, True)
        stage = self._stage(hearing_id)
        if stage.showing is not None:
            await self._end(actor, hearing_id, "replaced")
        stage.seq += 1
        stage.showing = Showing(
            None, actor.id, name, at_ms=_now_ms(), seq=stage.seq, screen_track=track
        )
        await self._hearings.audit(
            hearing_id, actor, AuditEvent.EVIDENCE_PRESENTED, {"screen": True, "presenter": name}
        )
        await self._announce(hearing_id)
        return self.state(hearing_id)

    async def move(self, actor: Actor, hearing_id: str, change: dict[str, Any]) -> dict[str, Any]:
        """The presenter turns a page, zooms, pans, points, plays or pauses."""
        hearing = await self._hearings.store.get_hearing(hearing_id)
        authorize(actor, Action.PRESENT_EVIDENCE, hearing)
        stage = self._stage(hearing_id)
        showing = stage.showing
        if showing is None:
            raise Conflict("nothing is being presented", code="not_presenting")
        if showing.presenter_id != actor.id:
            raise Forbidden("only the presenter moves what is shown", code="not_presenter")
        updated = showing
        if "page" in change:
            page = change["page"]
            pages = (showing.exhibit.pages or 1) if showing.exhibit else 1
            if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= pages:
                raise ValidationError(f"page is 1..{pages}")
            updated = replace(updated, page=page)
        if "zoom" in change:
            zoom = change["zoom"]
            if isinstance(zoom, bool) or not isinstance(zoom, (int, float)):
                raise ValidationError("zoom is a number")
            if not MIN_ZOOM <= float(zoom) <= MAX_ZOOM:
                raise ValidationError(f"zoom is {MIN_ZOOM}..{MAX_ZOOM}")
            updated = replace(updated, zoom=float(zoom))
        if "center" in change:
            updated = replace(updated, center=_point(change["center"], "center"))
        if "pointer" in change:
            pointer = change["pointer"]
            updated = replace(
                updated, pointer=None if pointer is None else _point(pointer, "pointer")
            )
        if "playing" in change or "position_s" in change:
            playing = change.get("playing", updated.playing)
            position = change.get("position_s", updated.position_s)
            if not isinstance(playing, bool):
                raise ValidationError("playing is true or false")
            if (
                isinstance(position, bool)
                or not isinstance(position, (int, float))
                or not 0 <= float(position) <= 24 * 3600
            ):
                raise ValidationError("position_s is a number of seconds")
            updated = replace(updated, playing=playing, position_s=float(position), at_ms=_now_ms())
        if updated == showing:
            return self.state(hearing_id)
        stage.seq += 1
        stage.showing = replace(updated, seq=stage.seq)
        await self._announce(hearing_id)
        return self.state(hearing_id)

    async def stop(self, actor: Actor, hearing_id: str) -> dict[str, Any]:
        """The presenter, or the court, takes the exhibit off the screens."""
        hearing = await self._hearings.store.get_hearing(hearing_id)
        authorize(actor, Action.PRESENT_EVIDENCE, hearing)
        stage = self._stage(hearing_id)
        if stage.showing is None:
            return self.state(hearing_id)
        if stage.showing.presenter_id != actor.id and actor.role not in COURT_ROLES:
            raise Forbidden("only the presenter or the court stops it", code="not_presenter")
        await self._end(actor, hearing_id, "stopped")
        await self._announce(hearing_id)
        return self.state(hearing_id)

    async def _end(self, actor: Actor, hearing_id: str, reason: str) -> None:
        stage = self._stage(hearing_id)
        showing = stage.showing
        if showing is None:
            return
        stage.showing = None
        stage.seq += 1
        if showing.screen_track is not None and self._screens is not None:
            # Stopped by the judge or not: no packet of the screen leaves the server now.
            self._screens.set_screen_forwarding(showing.presenter_id, False)
        what = (
            {"exhibit_id": showing.exhibit.id, "label": showing.exhibit.label}
            if showing.exhibit
            else {"screen": True}
        )
        await self._hearings.audit(
            hearing_id, actor, AuditEvent.EVIDENCE_PRESENTATION_ENDED, {**what, "reason": reason}
        )

    async def on_service_event(self, event: ServiceEvent) -> None:
        """Stop a presentation whose presenter left the room or whose hearing left session;
        withdraw the floor from someone who left; bring someone entering the room up to date."""
        match event:
            case HearingChanged(hearing_id=hid, data=data):
                stage = self._stages.get(hid)
                if stage is None or data.get("state") == HearingState.IN_SESSION.value:
                    return
                had = stage.showing is not None or stage.granted_to is not None
                await self._end(Actor.system(), hid, "hearing_" + str(data.get("state")))
                stage.granted_to = None
                if had:
                    await self._announce(hid)
                if data.get("state") in ("closed", "adjourned"):
                    self._stages.pop(hid, None)
            case ParticipantChanged(hearing_id=hid, data=data):
                stage = self._stages.get(hid)
                if stage is None:
                    return
                pid = data["id"]
                here = (
                    data.get("state") == ParticipantState.IN_HEARING.value
                    and (data.get("room") == RoomType.HEARING.value)
                    and bool(data.get("connected"))
                )
                if here:
                    entered = data.get("previous_state") != ParticipantState.IN_HEARING.value
                    if entered and (stage.showing is not None or stage.granted_to is not None):
                        await self._hearings.events.publish(
                            PresentationChanged(hid, (pid,), self.state(hid))
                        )
                    return
                changed = False
                if stage.showing is not None and stage.showing.presenter_id == pid:
                    await self._end(Actor.system(), hid, "presenter_left")
                    changed = True
                if stage.granted_to == pid:
                    stage.granted_to = None
                    changed = True
                if changed:
                    await self._announce(hid)
            case _:
                return


def _now_ms() -> int:
    return int(time.time() * 1000)
