"""The courtroom composite of each hearing in session: composed once, used three ways.

While a hearing is in session (or paused, or suspended), one Compositor per hearing composes
everyone in the hearing room from their decoded media (decode on demand: the decoders run
only because the compositor taps them). Its encoded output is published by the router as a
server source: courtroom-display participants receive it instead of individual tiles, the
recorder records it, and it stays ready for a livestream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Protocol, cast
from zoneinfo import ZoneInfo

from aiohttp import web
from av import AudioFrame, VideoFrame

from hearing_server import keys
from hearing_server.core.hearing import Hearing
from hearing_server.core.participant import Role, is_sign_language
from hearing_server.media.compositor import Compositor, CompositorConfig
from hearing_server.media.errors import MediaError
from hearing_server.media.taps import DecodedFrame, MediaKind, ServerSource, Tap
from hearing_server.service.background import BackgroundWork
from hearing_server.service.hearings import HearingService
from hearing_server.service.live import LiveHearings

from .per_hearing import RUNNING_STATES, PerHearingConsumer

log = logging.getLogger(__name__)


class CompositeMedia(Protocol):
    """What the coordinator needs from the media router."""

    def open_decoded_tap(
        self, pid: str, kind: MediaKind, *, track_id: str | None = None
    ) -> Tap[DecodedFrame]: ...

    def published_kinds(self, pid: str) -> set[MediaKind]: ...

    def add_server_source(
        self,
        pid: str,
        kind: MediaKind,
        codec: str,
        *,
        on_keyframe_request: Callable[[], None] | None = None,
    ) -> ServerSource: ...


def composite_id(hearing_id: str) -> str:
    """The media id of a hearing's composite (a server source, never a participant id)."""
    return f"composite-{hearing_id[:32]}"


@dataclass
class _Running:
    compositor: Compositor
    sources: list[ServerSource]
    inputs: dict[str, frozenset[str]] = field(default_factory=dict)  # pid -> kinds tapped
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class CompositeCoordinator(PerHearingConsumer):
    """One per app; owns every hearing's compositor and closes them on ``close()``."""

    def __init__(
        self,
        *,
        media: CompositeMedia,
        hearings: HearingService,
        live: LiveHearings,
        clock_tz: tzinfo | None = None,
        serves: Callable[[str], bool] = lambda hearing_id: True,
    ) -> None:
        super().__init__(hearings, live, serves)
        self._clock_tz = clock_tz
        self._media = media
        self._running: dict[str, _Running] = {}
        self._work = BackgroundWork("composite")
        self._divisor = 1

    def composite_of(self, hearing_id: str) -> str | None:
        """The media id of the hearing's composite while it runs."""
        return composite_id(hearing_id) if hearing_id in self._running else None

    def request_keyframe(self, hearing_id: str) -> None:
        """Make the hearing's composite send a keyframe soon (e.g. a recording segment)."""
        running = self._running.get(hearing_id)
        if running is not None:
            running.compositor.request_keyframe()

    def set_frame_divisor(self, divisor: int) -> None:
        """Compose every ``divisor``-th frame only, in every hearing (load shedding)."""
        self._divisor = divisor
        for running in self._running.values():
            running.compositor.set_frame_divisor(divisor)

    def speakers(self) -> dict[str, str | None]:
        """Who speaks now in each hearing that has a composite (the compositor follows it)."""
        return {hid: running.compositor.speaker for hid, running in self._running.items()}

    def compositor(self, hearing_id: str) -> Compositor | None:
        running = self._running.get(hearing_id)
        return running.compositor if running else None

    @property
    def running(self) -> dict[str, _Running]:
        return self._running

    async def on_hearing(self, hearing: Hearing) -> None:
        running = self._running.get(hearing.id)
        if hearing.state in RUNNING_STATES:
            if running is None:
                await self._start(hearing)
            else:
                running.compositor.set_layout(hearing.layout)
                running.compositor.set_spotlight(hearing.extra.get("spotlight"))
                running.compositor.set_hearing_info(
                    court=hearing.court, case_number=hearing.case_number, title=hearing.title
                )
        elif running is not None:
            await self._stop(hearing.id)

    async def _start(self, hearing: Hearing) -> None:
        cid = composite_id(hearing.id)
        await self._work.settle(hearing.id)  # the same media id: the old one must be gone
        compositor = Compositor(
            CompositorConfig(
                pid=cid,
                layout=hearing.layout,  # type: ignore[arg-type]
                case_number=hearing.case_number,
                court=hearing.court,
                title=hearing.title,
                clock_tz=self._clock_tz,
            )
        )
        video = self._media.add_server_source(
            cid, "video", "H264", on_keyframe_request=compositor.request_keyframe
        )
        audio = self._media.add_server_source(cid, "audio", "opus")
        compositor.add_sink(video.push, kind="video")
        compositor.add_sink(audio.push, kind="audio")
        compositor.set_frame_divisor(self._divisor)
        compositor.set_spotlight(hearing.extra.get("spotlight"))
        await compositor.start()
        self._running[hearing.id] = _Running(compositor, [video, audio])
        await self.sync(hearing.id)
        await self._live.set_composite(hearing.id, cid)

    async def _stop(self, hearing_id: str) -> None:
        running = self._running.pop(hearing_id, None)
        if running is None:
            return
        await self._live.set_composite(hearing_id, None)
        # Stopping the encoder threads takes a moment; the action that ended the hearing
        # answers without waiting for it.
        self._work.start(hearing_id, self._close(running), what="stopping the compositor")

    @staticmethod
    async def _close(running: _Running) -> None:
        async with running.lock:
            await running.compositor.close()
            for source in running.sources:
                await source.close()

    async def sync(self, hearing_id: str) -> None:
        """Compose exactly those in the hearing room, with the tracks they publish."""
        running = self._running.get(hearing_id)
        if running is None:
            return
        async with running.lock:
            in_room = await self._live.hearing_room_speakers(hearing_id)
            comp = running.compositor
            for pid in set(running.inputs) - set(in_room):
                comp.remove_participant(pid)
                del running.inputs[pid]
            for pid, p in in_room.items():
                kinds = frozenset(self._media.published_kinds(pid))
                comp.set_muted(pid, p.audio_muted)
                if running.inputs.get(pid) == kinds:
                    continue
                taps = {kind: self._open(pid, kind) for kind in kinds}
                # A video tap yields VideoFrames only, an audio tap AudioFrames only.
                comp.add_participant(
                    pid,
                    p.display_name,
                    p.role,
                    cast("AsyncIterator[VideoFrame] | None", taps.get("video")),
                    cast("AsyncIterator[AudioFrame] | None", taps.get("audio")),
                    side=p.side,
                    beside=p.interprets_for
                    if p.role is Role.INTERPRETER and is_sign_language(p.language)
                    else None,
                )
                comp.set_muted(pid, p.audio_muted)
                running.inputs[pid] = kinds

    def open_screen(self, pid: str, track_id: str) -> Tap[DecodedFrame] | None:
        """Decoded frames of ``pid``'s shared screen (None if it went away meanwhile)."""
        try:
            return self._media.open_decoded_tap(pid, "video", track_id=track_id)
        except MediaError as exc:
            log.info("no screen of %s to compose: %s", pid, exc)
            return None

    def _open(self, pid: str, kind: MediaKind) -> Tap[DecodedFrame] | None:
        try:
            return self._media.open_decoded_tap(pid, kind)
        except MediaError as exc:  # unpublished between listing and opening
            log.info("no %s of %s to compose: %s", kind, pid, exc)
            return None

    async def close(self) -> None:
        """Stop every compositor. Idempotent."""
        self._closed = True
        for hearing_id in list(self._running):
            try:
                await self._stop(hearing_id)
            except Exception:
                log.exception("stopping the composite of hearing %s failed", hearing_id)
        await self._work.close()


def install_composite(app: web.Application) -> None:
    """One composite per hearing in session, unless ``composite_enabled`` is off."""
    settings = app[keys.SETTINGS]
    if not settings.composite_enabled:
        app[keys.COMPOSITES] = None
        return
    composites = CompositeCoordinator(
        media=app[keys.MEDIA],
        hearings=app[keys.HEARINGS],
        live=app[keys.LIVE],
        clock_tz=ZoneInfo(settings.court_timezone) if settings.court_timezone else None,
        # the placement is installed later, on top of the features it places
        serves=lambda hearing_id: app[keys.PLACEMENT].serves(hearing_id),
    )
    app[keys.EVENTS].subscribe(composites.on_service_event)
    app[keys.MEDIA_EVENTS].subscribe(composites.on_media_event)
    app[keys.COMPOSITES] = composites

    async def compositors(_: web.Application) -> AsyncIterator[None]:
        yield
        await composites.close()

    app.cleanup_ctx.append(compositors)
