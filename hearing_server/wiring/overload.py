"""Overload degrades, never disconnects: what is shed, in which order, and for whom.

When the load monitor (``media/load.py``) says the server cannot keep up, video goes first,
to those who need it least; then the composite's frame rate. Audio is never shed, nor the
recording of it, nor a connection. The judge and clerk are told, with the reason; when the
load falls, everything comes back level by level (video restarts on a keyframe).

| level | non-staff receive video of | staff receive video of | composite | captions |
|---|---|---|---|---|
| 0 | everyone in their room | everyone | full rate | interim and final |
| 1 | the presiding judge (or mediator), the speaker | everyone | full rate | final only |
| 2 | the presiding judge | everyone | half rate | final only |
| 3 | nobody | the presiding judge, the speaker | a fifth | final only |

(Interim captions are paused by the transcription coordinator, which hears the same
``ServerLoadChanged``: each costs a recognition a second per speaker.)

(Non-staff: parties, counsel, witnesses, experts, interpreters, observers.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Protocol

from aiohttp import web

from hearing_server import keys
from hearing_server.core.participant import Participant, Role
from hearing_server.media.load import LoadLevel, LoadMonitor, LoadReading, LoadSettings
from hearing_server.media.taps import MediaKind
from hearing_server.service.events import (
    EventBus,
    ParticipantChanged,
    ServerLoadChanged,
    ServiceEvent,
)
from hearing_server.service.live import LiveHearings

from .composite import CompositeCoordinator

log = logging.getLogger(__name__)

STAFF = frozenset({Role.JUDGE, Role.CLERK, Role.MEDIATOR, Role.COURTROOM_DISPLAY})
PRESIDING = frozenset({Role.JUDGE, Role.MEDIATOR})
COMPOSITE_DIVISOR = {
    LoadLevel.NORMAL: 1,
    LoadLevel.SHED_THUMBNAILS: 1,
    LoadLevel.SHED_VIDEO: 2,
    LoadLevel.SHED_MOST: 5,
}
SHEDDING = {
    LoadLevel.NORMAL: "nothing",
    LoadLevel.SHED_THUMBNAILS: (
        "video of those not speaking, to parties and other non-staff; interim captions"
    ),
    LoadLevel.SHED_VIDEO: "all video but the presiding judge's to non-staff; composite half rate",
    LoadLevel.SHED_MOST: "all video to non-staff; composite at a fifth of its rate",
}
REAPPLY_S = 2.0  # while shedding: who speaks changes, so does whose video is kept


class VideoShedder(Protocol):
    def set_video_shed(self, subscriber_pid: str, publisher_pids: Iterable[str]) -> None: ...

    def published_kinds(self, pid: str) -> set[MediaKind]: ...


class CompositeRates(Protocol):
    def set_frame_divisor(self, divisor: int) -> None: ...

    def speakers(self) -> dict[str, str | None]: ...


def kept_video(
    level: LoadLevel,
    subscriber: Participant,
    publishers: Iterable[Participant],
    speaker: str | None,
) -> set[str]:
    """Whose video ``subscriber`` still receives at ``level`` (see the module's table)."""
    everyone = {p.id for p in publishers if p.id != subscriber.id}
    presiding = {p.id for p in publishers if p.role in PRESIDING}
    speaking = {speaker} if speaker is not None else set()
    staff = subscriber.role in STAFF
    if level is LoadLevel.NORMAL or (staff and level < LoadLevel.SHED_MOST):
        return everyone
    if staff:
        return everyone & (presiding | speaking)
    if level is LoadLevel.SHED_THUMBNAILS:
        return everyone & (presiding | speaking)
    if level is LoadLevel.SHED_VIDEO:
        return everyone & presiding
    return set()


class OverloadCoordinator:
    """Applies the shedding table to every live hearing and tells the staff."""

    def __init__(
        self,
        *,
        media: VideoShedder,
        live: LiveHearings,
        events: EventBus[ServiceEvent],
        composites: CompositeRates | None,
    ) -> None:
        self._media = media
        self._live = live
        self._events = events
        self._composites = composites
        self._level = LoadLevel.NORMAL
        self._shed: dict[str, frozenset[str]] = {}  # subscriber -> publishers shed
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        # hearings whose members changed while shedding, applied by one task at a time
        self._changed: set[str] = set()
        self._catching_up: asyncio.Task[None] | None = None

    @property
    def level(self) -> LoadLevel:
        return self._level

    async def on_load(self, reading: LoadReading) -> None:
        """The monitor's new level: shed or restore, and tell the judge and clerk."""
        self._level = reading.level
        if self._composites is not None:
            self._composites.set_frame_divisor(COMPOSITE_DIVISOR[reading.level])
        await self.apply()
        hearings = tuple(sorted(self._live.live_hearing_ids()))
        await self._events.publish(
            ServerLoadChanged(
                hearings,
                {
                    "level": int(reading.level),
                    "overloaded": reading.level > LoadLevel.NORMAL,
                    "reason": reading.reason,
                    "shedding": SHEDDING[reading.level],
                    "lag_p95_ms": round(reading.lag_p95_ms, 1),
                    "dropped": reading.dropped,
                },
            )
        )
        if reading.level > LoadLevel.NORMAL and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._reapply(), name="overload-reapply"
            )

    async def on_service_event(self, event: ServiceEvent) -> None:
        """A hearing's members changed while shedding: its shed sets are brought up to date
        soon, by one task for every change meanwhile. Not in the event's own path: a join
        would wait for the store reads of every join before it (seconds, when many people
        join an overloaded server at once)."""
        if isinstance(event, ParticipantChanged) and self._level > LoadLevel.NORMAL:
            self._changed.add(event.hearing_id)
            if self._catching_up is None:
                self._catching_up = asyncio.get_running_loop().create_task(
                    self._catch_up(), name="overload-members-changed"
                )

    async def _catch_up(self) -> None:
        try:
            while self._changed:
                changed, self._changed = self._changed, set()
                await self.apply(changed)
        except Exception:
            log.exception("shedding for changed hearings failed; the next round retries")
        finally:
            self._catching_up = None

    async def apply(self, hearing_ids: Iterable[str] | None = None) -> None:
        """Make every subscriber's shed set match the current level."""
        async with self._lock:
            ids = list(self._live.live_hearing_ids() if hearing_ids is None else hearing_ids)
            speakers = self._composites.speakers() if self._composites is not None else {}
            for hid in ids:
                members = await self._live.hearing_room_members(hid)
                publishers = [
                    p for p in members.values() if "video" in self._media.published_kinds(p.id)
                ]
                for sub in members.values():
                    kept = kept_video(self._level, sub, publishers, speakers.get(hid))
                    shed = frozenset(p.id for p in publishers if p.id != sub.id) - kept
                    if self._shed.get(sub.id, frozenset()) != shed:
                        self._set(sub.id, shed)
            if self._level is LoadLevel.NORMAL:
                for pid in list(self._shed):  # those who left the room meanwhile
                    self._set(pid, frozenset())

    def _set(self, subscriber: str, shed: frozenset[str]) -> None:
        try:
            self._media.set_video_shed(subscriber, shed)
        except Exception:
            log.exception("shedding video for %s failed", subscriber)
            return
        if shed:
            self._shed[subscriber] = shed
        else:
            self._shed.pop(subscriber, None)

    async def _reapply(self) -> None:
        try:
            while self._level > LoadLevel.NORMAL:
                await asyncio.sleep(REAPPLY_S)
                await self.apply()
        finally:
            self._task = None

    async def close(self) -> None:
        tasks = [t for t in (self._task, self._catching_up) if t is not None]
        self._task = self._catching_up = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def install_overload(app: web.Application) -> None:
    """The load monitor and the shedding policy (unless ``overload_shedding`` is off)."""
    settings = app[keys.SETTINGS]
    if not settings.overload_shedding:
        return
    composites = app[keys.COMPOSITES]
    coordinator = OverloadCoordinator(
        media=app[keys.MEDIA],
        live=app[keys.LIVE],
        events=app[keys.EVENTS],
        composites=composites if isinstance(composites, CompositeCoordinator) else None,
    )
    app[keys.EVENTS].subscribe(coordinator.on_service_event)
    app[keys.OVERLOAD] = coordinator
    monitor = LoadMonitor(
        coordinator.on_load,
        LoadSettings(raise_lag_ms=settings.overload_lag_ms, raise_drops=settings.overload_drops),
    )
    app[keys.LOAD_MONITOR] = monitor  # its lag and level are metrics too

    async def shedding(_: web.Application) -> AsyncIterator[None]:
        monitor.start()
        yield
        await monitor.close()
        await coordinator.close()

    app.cleanup_ctx.append(shedding)
