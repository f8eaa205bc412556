"""Public livestream of open trials (庭审公开): HLS from the courtroom composite.

Domain → livestream: only a public hearing may be streamed (a closed or sealed one is refused
and nothing is produced); the presiding judge, or the mediator of a public mediation, starts,
cuts, resumes and stops it (``control_livestream``), each action audited and pushed to the
hearing as ``livestream_state``. A hearing changed to closed or sealed stops its stream at once
and its files are deleted; a hearing that closes ends its stream.

Media: the composite's encoded taps (the same taps the recording remuxes) feed a
``livestream.LiveStream``: H.264 remuxed, Opus → AAC, the broadcast delay and the slate.
The public HTTP side (``api/livestream.py``) reads playlists and segment paths from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from aiohttp import web

from hearing_server import keys
from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEvent
from hearing_server.core.errors import Conflict, Forbidden, Unavailable, ValidationError
from hearing_server.core.hearing import Hearing, HearingState, Visibility
from hearing_server.core.permissions import Action, authorize
from hearing_server.media.compositor.draw import find_cjk_font
from hearing_server.media.errors import MediaError
from hearing_server.media.taps import Composites, EncodedFrame, MediaKind, Tap
from hearing_server.service.background import BackgroundWork
from hearing_server.service.events import (
    CaptionPublished,
    EventBus,
    HearingChanged,
    LivestreamStateChanged,
    ServiceEvent,
)
from hearing_server.service.hearings import HearingService
from livestream import (
    REPLAY_PLAYLIST,
    LiveStream,
    StreamOptions,
    publish_replay,
    replay_dir,
    tidy_stopped,
    withhold_replay,
)
from mediakit import HearingClock

log = logging.getLogger(__name__)

LivestreamAction = Literal["start", "cut", "resume", "stop", "allow_replay", "withdraw_replay"]
REPLAY_MARK = "replay-allowed"  # beside public/: the judge allowed the replay
MAX_DELAY_S = 600
VIEWER_WINDOW_S = 15.0  # a viewer counts while their player fetched the playlist this recently
_HEARING_DIR = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SEGMENT_NAME = re.compile(r"^[0-9]{9}\.(ts|vtt)$")


class CompositeTaps(Protocol):
    """What the livestream needs from the media router."""

    def open_encoded_tap(self, pid: str, kind: MediaKind) -> Tap[EncodedFrame]: ...

    def published_kinds(self, pid: str) -> set[MediaKind]: ...


@dataclass
class _Running:
    stream: LiveStream
    delay_s: float
    started_at: float  # time.time()
    taps: list[Tap[EncodedFrame]]
    hearing_clock_mono_start: float  # time.monotonic() at the hearing clock's 0 (captions)
    pumps: list[asyncio.Task[None]] = field(default_factory=list)
    viewers: dict[str, float] = field(default_factory=dict)  # client address -> last seen


class LivestreamCoordinator:
    """One per app. Owns every running stream and its pump tasks; ``close()`` stops them."""

    def __init__(
        self,
        *,
        root: Path,
        taps: CompositeTaps,
        composites: Composites | None,
        hearings: HearingService,
        events: EventBus[ServiceEvent],
        default_delay_s: float,
        segment_s: float,
        font_path: Path | None,
    ) -> None:
        self._root = root
        self._taps = taps
        self._composites = composites
        self._hearings = hearings
        self._events = events
        self._default_delay_s = default_delay_s
        self._segment_s = segment_s
        self._font_path = font_path
        self._running: dict[str, _Running] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Stops that follow from the media (the composite ended, the segmenter failed).
        self._work = BackgroundWork("livestream")
        self._closed = False

    # -- the judge ---------------------------------------------------------------------------

    def status(self, hearing_id: str) -> dict[str, Any]:
        """``{state: not_live | live | cut, replay, delay_seconds?, started_at?, viewers?}``."""
        running = self._running.get(hearing_id)
        replay = (self._stream_dir(hearing_id) / REPLAY_MARK).exists()
        if running is None:
            return {"state": "not_live", "replay": replay}
        return {
            "replay": replay,
            "state": running.stream.state,
            "delay_seconds": running.delay_s,
            "started_at": running.started_at,
            "viewers": self.viewers(hearing_id),
            "published_segments": len(running.stream.publisher.entries),
        }

    async def control(
        self,
        actor: Actor,
        hearing_id: str,
        action: LivestreamAction,
        delay_seconds: int | None = None,
    ) -> dict[str, Any]:
        """Start, cut, resume or stop the hearing's livestream; returns the status."""
        hearing = await self._hearings.store.get_hearing(hearing_id)
        authorize(actor, Action.CONTROL_LIVESTREAM, hearing)
        if hearing.visibility is not Visibility.PUBLIC:
            raise Forbidden(
                f"a {hearing.visibility.value} hearing is never livestreamed", code="not_public"
            )
        if delay_seconds is not None and action != "start":
            raise ValidationError("delay_seconds is set when the stream starts")
        async with self._lock(hearing_id):
            running = self._running.get(hearing_id)
            if action in ("allow_replay", "withdraw_replay"):
                await self._set_replay(hearing_id, actor, allowed=action == "allow_replay")
            elif action == "start":
                if running is not None:
                    raise Conflict("the hearing is already livestreamed")
                await self._start(hearing, actor, delay_seconds)
            elif running is None:
                raise Conflict("the hearing is not livestreamed")
            elif action == "cut":
                if running.stream.state == "cut":
                    raise Conflict("the livestream is already cut")
                deleted = running.stream.cut()
                await self._changed(
                    hearing_id, actor, AuditEvent.LIVESTREAM_CUT, {"withheld_deleted": deleted}
                )
            elif action == "resume":
                if running.stream.state != "cut":
                    raise Conflict("the livestream is not cut")
                running.stream.resume()
                await self._changed(hearing_id, actor, AuditEvent.LIVESTREAM_RESUMED, {})
            else:
                await self._stop(hearing_id, actor, reason="stopped")
        return self.status(hearing_id)

    async def _set_replay(self, hearing_id: str, actor: Actor, *, allowed: bool) -> None:
        """Whether the published parts may be watched again once the stream has stopped.
        The mark lives with the files, so it holds across restarts and goes with them.
        A stopped stream's replay is in ``public/`` (served from disk) only while allowed:
        the mark is set before the files go there and removed after they left, so a crash
        between the two never leaves an unallowed replay public."""
        root = self._stream_dir(hearing_id)
        mark = root / REPLAY_MARK
        stopped = hearing_id not in self._running
        try:
            if allowed:
                await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
                await asyncio.to_thread(mark.touch)
                if stopped:
                    await asyncio.to_thread(publish_replay, root)
            else:
                if stopped:
                    await asyncio.to_thread(withhold_replay, root)
                await asyncio.to_thread(mark.unlink, True)
        except OSError as exc:
            log.error("livestream replay of %s cannot be changed: %s", hearing_id, exc)
            raise Unavailable(
                f"the replay cannot be changed: {exc}", code="livestream_failed"
            ) from exc
        await self._changed(
            hearing_id, actor, AuditEvent.LIVESTREAM_REPLAY_CHANGED, {"allowed": allowed}
        )

    def _lock(self, hearing_id: str) -> asyncio.Lock:
        return self._locks.setdefault(hearing_id, asyncio.Lock())

    async def _start(self, hearing: Hearing, actor: Actor, delay_seconds: int | None) -> None:
        if delay_seconds is not None and not 0 <= delay_seconds <= MAX_DELAY_S:
            raise ValidationError(f"delay_seconds must be between 0 and {MAX_DELAY_S}")
        if hearing.state not in (HearingState.IN_SESSION, HearingState.PAUSED):
            raise Conflict("a livestream starts when the hearing is in session")
        cid = self._composites.composite_of(hearing.id) if self._composites else None
        if cid is None or "video" not in self._taps.published_kinds(cid):
            raise Conflict("the courtroom composite is not running", code="no_composite")
        delay = float(delay_seconds) if delay_seconds is not None else self._default_delay_s
        try:
            video = self._taps.open_encoded_tap(cid, "video")
            audio = self._taps.open_encoded_tap(cid, "audio")
        except MediaError as exc:
            raise Conflict(f"the courtroom composite is not ready: {exc}") from exc
        hid = hearing.id
        composites = self._composites
        assert composites is not None
        root = self._stream_dir(hid)
        # An earlier stream's files (and its replay) give way to the new stream; the judge's
        # decision on the replay stays.
        stream = LiveStream(
            root,
            StreamOptions(delay_s=delay, target_s=self._segment_s, font_path=self._font_path),
            request_keyframe=lambda: composites.request_keyframe(hid),
            on_failure=lambda exc: self._failed(hid, exc),
        )
        try:
            replay = (root / REPLAY_MARK).exists()
            await asyncio.to_thread(shutil.rmtree, root, True)
            if replay:
                await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
                await asyncio.to_thread((root / REPLAY_MARK).touch)
            await stream.start()
        except OSError as exc:  # the disk: the judge hears why, nothing is left running
            for tap in (video, audio):
                tap.close()
            await stream.stop()
            log.error("livestream of %s cannot start: %s", hid, exc)
            raise Unavailable(
                f"the livestream cannot be written: {exc}", code="livestream_failed"
            ) from exc
        # Captions carry times on the hearing clock (from the actual start); the stream wants
        # monotonic instants.
        mono_start = HearingClock(hearing.actual_start).mono_start
        running = _Running(stream, delay, time.time(), [video, audio], mono_start)
        running.pumps = [
            asyncio.create_task(self._pump(hid, stream, video), name=f"livestream video {hid}"),
            asyncio.create_task(self._pump(hid, stream, audio), name=f"livestream audio {hid}"),
        ]
        for task in running.pumps:
            task.add_done_callback(functools.partial(self._pump_done, hid))
        self._running[hid] = running
        await self._changed(hid, actor, AuditEvent.LIVESTREAM_STARTED, {"delay_seconds": delay})

    def _pump_done(self, hid: str, task: asyncio.Task[None]) -> None:
        """A pump that failed stops its stream (logged, audited with the error)."""
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        assert exc is not None
        log.error("livestream of %s: feeding the stream failed", hid, exc_info=exc)
        self._failed(hid, exc)

    async def _pump(self, hid: str, stream: LiveStream, tap: Tap[EncodedFrame]) -> None:
        async for f in tap:
            if f.kind == "video":
                stream.video(f.payload, f.rtp_timestamp, f.clock_rate, f.arrival, f.keyframe)
            else:
                stream.audio(f.payload, f.rtp_timestamp, f.clock_rate, f.arrival)
        # The composite went away (the hearing left session): the stream ends with it.
        if not self._closed and self._running.get(hid) is not None:
            self._work.start(hid, self._stop_locked(hid, "composite ended"), what="ending")

    async def _stop_locked(self, hid: str, reason: str) -> None:
        async with self._lock(hid):
            await self._stop(hid, Actor.system(), reason=reason)

    async def _stop(
        self, hearing_id: str, actor: Actor, *, reason: str, delete_all: bool = False
    ) -> None:
        running = self._running.pop(hearing_id, None)
        if running is None:
            return
        for tap in running.taps:
            tap.close()
        current = asyncio.current_task()
        for task in running.pumps:
            if task is not current:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        summary = await running.stream.stop(delete_all=delete_all)
        data = {"reason": reason, **summary}
        root = self._stream_dir(hearing_id)
        if not delete_all and "retire_error" not in summary and (root / REPLAY_MARK).exists():
            try:
                await asyncio.to_thread(publish_replay, root)
            except OSError as exc:  # it stays in kept/: the app still serves it
                log.error("livestream replay of %s cannot be published: %s", hearing_id, exc)
                data["replay_error"] = repr(exc)
        if running.stream.failed is not None:
            data["error"] = repr(running.stream.failed)
        await self._changed(hearing_id, actor, AuditEvent.LIVESTREAM_STOPPED, data)

    def _failed(self, hearing_id: str, exc: BaseException) -> None:
        """The segmenter failed: stop the stream and tell the judge (state ``not_live``,
        the audit entry names the error)."""
        if not self._closed:
            self._work.start(
                hearing_id,
                self._stop_locked(hearing_id, f"failed: {exc}"),
                what="stopping after a failure",
            )

    async def _changed(
        self, hearing_id: str, actor: Actor, event: AuditEvent, data: dict[str, Any]
    ) -> None:
        await self._hearings.audit(hearing_id, actor, event, data)
        await self._events.publish(LivestreamStateChanged(hearing_id, self.status(hearing_id)))

    # -- the domain ---------------------------------------------------------------------------

    async def on_service_event(self, event: ServiceEvent) -> None:
        """A hearing made closed or sealed stops at once (its files deleted); one that
        leaves session ends its stream."""
        if self._closed:
            return
        if isinstance(event, CaptionPublished):
            self._on_caption(event)
            return
        if not isinstance(event, HearingChanged):
            return
        hid = event.hearing_id
        visibility = event.data.get("visibility")
        state = event.data.get("state")
        if visibility is not None and visibility != Visibility.PUBLIC.value:
            async with self._lock(hid):
                await self._stop(hid, Actor.system(), reason="not public", delete_all=True)
            # Nothing of a hearing that is no longer public stays on disk.
            if self._stream_dir(hid).exists():
                await asyncio.to_thread(shutil.rmtree, self._stream_dir(hid), True)
        elif state in (HearingState.CLOSED.value, HearingState.ADJOURNED.value):
            async with self._lock(hid):
                await self._stop(hid, Actor.system(), reason=f"hearing {state}")

    def _on_caption(self, event: CaptionPublished) -> None:
        """Final captions of the hearing room go out with the stream, delayed like it."""
        running = self._running.get(event.hearing_id)
        caption = event.caption
        if running is None or not caption.get("final") or not caption.get("text"):
            return
        try:
            start = running.hearing_clock_mono_start + float(caption["start"])
            end = running.hearing_clock_mono_start + float(caption["end"])
        except (KeyError, TypeError, ValueError):
            log.warning("caption without times for the livestream of %s", event.hearing_id)
            return
        running.stream.caption(start, end, str(caption["text"]))

    def captions_playlist(self, hearing_id: str) -> str | None:
        """The WebVTT playlist of a running stream."""
        running = self._running.get(hearing_id)
        return running.stream.publisher.captions_playlist if running is not None else None

    # -- what the public side reads ------------------------------------------------------------

    def playlist(self, hearing_id: str, viewer: str | None = None) -> str | None:
        """The live playlist of a running public stream (None: nothing to watch)."""
        running = self._running.get(hearing_id)
        if running is None:
            return None
        if viewer is not None:
            running.viewers[viewer] = time.monotonic()
            if len(running.viewers) > 100_000:  # bounded: forget the oldest half
                for addr, _ in sorted(running.viewers.items(), key=lambda kv: kv[1])[:50_000]:
                    del running.viewers[addr]
        return running.stream.publisher.playlist

    def segment_path(self, hearing_id: str, name: str) -> Path | None:
        """The file of a published segment of a running stream; None for anything else
        (withheld, deleted, not a segment name at all)."""
        running = self._running.get(hearing_id)
        if running is None or not _SEGMENT_NAME.match(name):
            return None
        if not running.stream.publisher.is_published(name):
            return None
        return running.stream.publisher.public_dir / name

    def replay_playlist(self, hearing_id: str) -> str | None:
        """The replay of a stopped stream, if the judge allowed it (None otherwise)."""
        if hearing_id in self._running or not _HEARING_DIR.match(hearing_id):
            return None
        root = self._stream_dir(hearing_id)
        try:
            if not (root / REPLAY_MARK).exists():
                return None
            where = replay_dir(root)
            return None if where is None else (where / REPLAY_PLAYLIST).read_text("utf-8")
        except OSError:
            return None

    def replay_path(self, hearing_id: str, name: str) -> Path | None:
        """A segment (or its WebVTT) listed in the allowed replay."""
        if not _SEGMENT_NAME.match(name):
            return None
        text = self.replay_playlist(hearing_id)
        if text is None:
            return None
        listed = {line for line in text.splitlines() if line and not line.startswith("#")}
        segment = name.replace(".vtt", ".ts")
        where = replay_dir(self._stream_dir(hearing_id))
        if segment not in listed or where is None:
            return None
        return where / name

    def viewers(self, hearing_id: str) -> int:
        running = self._running.get(hearing_id)
        if running is None:
            return 0
        since = time.monotonic() - VIEWER_WINDOW_S
        return sum(1 for t in running.viewers.values() if t >= since)

    def live_hearings(self) -> dict[str, str]:
        """Hearing id -> ``live`` or ``cut`` for every running stream."""
        return {hid: r.stream.state for hid, r in self._running.items()}

    def _stream_dir(self, hearing_id: str) -> Path:
        return self._root / hearing_id

    async def tidy(self) -> None:
        """At start-up no stream runs: whatever a crash (or an older version) left under a
        ``public/`` goes out of it, except a replay the judge allowed."""
        if not self._root.is_dir():
            return
        for root in sorted(self._root.iterdir()):
            if not root.is_dir() or not _HEARING_DIR.match(root.name):
                continue
            try:
                allowed = (root / REPLAY_MARK).exists()
                await asyncio.to_thread(tidy_stopped, root, allowed=allowed)
            except OSError:
                log.exception("livestream files of %s cannot be tidied", root.name)

    async def close(self) -> None:
        """Stop every stream (withheld segments deleted). Idempotent."""
        self._closed = True
        for hid in list(self._running):
            try:
                await self._stop(hid, Actor.system(), reason="server stopping")
            except Exception:
                log.exception("stopping the livestream of %s failed", hid)
        await self._work.close()


def install_livestream(app: web.Application) -> None:
    """Livestreams of public hearings, fed by the composite (none without a composite)."""
    settings = app[keys.SETTINGS]
    try:
        font: Path | None = find_cjk_font()
    except FileNotFoundError as exc:
        log.warning("livestream slate: %s", exc)
        font = None
    coordinator = LivestreamCoordinator(
        root=settings.effective_livestream_dir,
        taps=app[keys.MEDIA],
        composites=app[keys.COMPOSITES],
        hearings=app[keys.HEARINGS],
        events=app[keys.EVENTS],
        default_delay_s=settings.livestream_delay_seconds,
        segment_s=settings.livestream_segment_seconds,
        font_path=font,
    )
    app[keys.EVENTS].subscribe(coordinator.on_service_event)
    app[keys.LIVESTREAMS] = coordinator

    async def livestreams(_: web.Application) -> AsyncIterator[None]:
        await coordinator.tidy()
        yield
        await coordinator.close()

    app.cleanup_ctx.append(livestreams)
