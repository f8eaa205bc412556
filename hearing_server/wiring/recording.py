"""Records every hearing while it is in session: who is in the hearing room is recorded.

Domain → recording: a hearing going in session starts a recording (configurable), a pause
pauses it, closing or adjourning stops it; the judge may also pause, resume and stop it.
Whoever is in the hearing room with published tracks is recorded; people in the waiting room
or a consultation room never are. Recording alerts reach the judge and clerk at once and go
into the audit log.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hearing_server import keys
from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEvent
from hearing_server.core.errors import Conflict
from hearing_server.core.hearing import Hearing, HearingState
from hearing_server.core.permissions import Action, authorize
from hearing_server.core.recording_history import RecordingHistory, recording_history
from hearing_server.media.errors import MediaError
from hearing_server.media.events import MediaEvent, TrackPublished, TrackUnpublished
from hearing_server.media.taps import Composites, EncodedFrame, MediaKind, Tap
from hearing_server.service.background import BackgroundWork
from hearing_server.service.events import (
    EventBus,
    HearingChanged,
    HearingMoved,
    ParticipantChanged,
    RecordingAlertRaised,
    RecordingStateChanged,
    ServiceEvent,
)
from hearing_server.service.hearings import HearingService
from hearing_server.service.live import LiveHearings
from recording import (
    AlertKind,
    Interrupted,
    RecordingAlert,
    RecordingCatalog,
    RecordingOptions,
    RecordingSession,
    RecordingStartError,
    RecordingStateError,
    SessionState,
    check_safe_name,
    close_interrupted,
    key_fingerprint,
    load_or_create_signing_key,
    new_recording_id,
    public_key_pem,
)

log = logging.getLogger(__name__)

RecordingAction = Literal["start", "pause", "resume", "stop"]


class EncodedTaps(Protocol):
    """What the coordinator needs from the media router."""

    def open_encoded_tap(self, pid: str, kind: MediaKind) -> Tap[EncodedFrame]: ...

    def request_keyframe(self, pid: str) -> None: ...

    def published_kinds(self, pid: str) -> set[MediaKind]: ...


@dataclass
class _Hearing:
    session: RecordingSession
    recorded: set[tuple[str, str]]  # (participant id, kind) being written
    lock: asyncio.Lock
    composite: str | None = None  # media id of the composite being recorded


class RecordingCoordinator:
    """One per app. Owns every RecordingSession; ``close()`` stops them all."""

    def __init__(
        self,
        *,
        root: Path,
        signing_key: Ed25519PrivateKey,
        taps: EncodedTaps,
        hearings: HearingService,
        live: LiveHearings,
        events: EventBus[ServiceEvent],
        auto_start: bool,
        composites: Composites | None = None,
        options: RecordingOptions | None = None,
        serves: Callable[[str], bool] = lambda hearing_id: True,
    ) -> None:
        """``serves``: whether this node serves a hearing's media now (another node of a
        cluster records the hearings it serves)."""
        self._root = root
        self._key = signing_key
        self._taps = taps
        self._hearings = hearings
        self._live = live
        self._events = events
        self._auto_start = auto_start
        self._composites = composites
        self._options = options
        self._serves = serves
        self._active: dict[str, _Hearing] = {}
        # hearing id -> id of its recording that is being finished and signed in the background
        self._finishing: dict[str, str] = {}
        self._work = BackgroundWork("recording", on_failure=self._finish_failed)
        # Hearings whose recording the judge stopped: no automatic restart.
        self._stopped_by_judge: set[str] = set()
        # Hearings looked at for a recording interrupted elsewhere (see _resume_interrupted).
        self._looked_at: set[str] = set()
        # hearing id -> the last alert of its recording, until a recording starts again: the
        # join gives it to the judge and clerk, who may have joined after it went out (an
        # alert raised while the first of them joins a restarted server reaches nobody).
        self._last_alert: dict[str, dict[str, Any]] = {}
        self._closed = False

    # -- load (the metrics read it) --------------------------------------------------------

    @property
    def active_recordings(self) -> int:
        """Recordings running or paused."""
        return sum(
            e.session.state in (SessionState.RECORDING, SessionState.PAUSED)
            for e in self._active.values()
        )

    @property
    def queued_frames(self) -> int:
        """Frames waiting for the recorder threads of every recording."""
        return sum(e.session.queued_frames for e in self._active.values())

    # -- control ----------------------------------------------------------------------------

    def status(self, hearing_id: str) -> dict[str, Any]:
        entry = self._active.get(hearing_id)
        if entry is None:
            finishing = self._finishing.get(hearing_id)
            if finishing is not None:
                return {"state": "stopping", "recording_id": finishing}
            return {"state": "not_recording"}
        return {"state": entry.session.state.value, "recording_id": entry.session.recording_id}

    def last_alert(self, hearing_id: str) -> dict[str, Any] | None:
        """The last ``recording_alert`` of the hearing since its recording last started."""
        return self._last_alert.get(hearing_id)

    async def control(
        self, actor: Actor, hearing_id: str, action: RecordingAction
    ) -> dict[str, Any]:
        """The judge starts, pauses, resumes or stops the recording."""
        hearing = await self._hearings.store.get_hearing(hearing_id)
        authorize(actor, Action.CONTROL_RECORDING, hearing)
        entry = self._active.get(hearing_id)
        if action == "start":
            if entry is not None and entry.session.state is not SessionState.STOPPED:
                raise Conflict("the hearing is already being recorded")
            if hearing.state is not HearingState.IN_SESSION:
                raise Conflict("a recording starts when the hearing is in session")
            self._stopped_by_judge.discard(hearing_id)
            await self._start(hearing, actor)
        elif entry is None:
            raise Conflict("the hearing is not being recorded")
        elif action == "pause":
            await self._change(entry.session.pause)
            await self._record_event(hearing_id, actor, AuditEvent.RECORDING_PAUSED, {})
        elif action == "resume":
            await self._change(entry.session.resume)
            await self._record_event(hearing_id, actor, AuditEvent.RECORDING_RESUMED, {})
        else:
            self._stopped_by_judge.add(hearing_id)
            await self._stop(hearing_id, actor)
        return self.status(hearing_id)

    @staticmethod
    async def _change(move: Callable[[], Awaitable[None]]) -> None:
        """Pause or resume: one that does not fit the session's state (a pause when paused,
        a resume when recording) is the judge's conflict, not a server error."""
        try:
            await move()
        except RecordingStateError as exc:
            raise Conflict(str(exc)) from exc

    # -- reacting to the domain and to media -------------------------------------------------

    async def on_service_event(self, event: ServiceEvent) -> None:
        if self._closed:
            return
        if isinstance(event, HearingChanged):
            await self._on_hearing_state(event.hearing_id, HearingState(event.data["state"]))
        elif isinstance(event, ParticipantChanged) and event.hearing_id in self._active:
            await self._sync(event.hearing_id)
        elif isinstance(event, ParticipantChanged):
            await self._resume_interrupted(event.hearing_id)
        elif isinstance(event, HearingMoved) and event.hearing_id in self._active:
            # Another node serves the hearing now and records it there.
            await self._stop(event.hearing_id, Actor.system())
            self._looked_at.discard(event.hearing_id)

    async def on_media_event(self, event: MediaEvent) -> None:
        if self._closed or not isinstance(event, TrackPublished | TrackUnpublished):
            return
        hearing_id = self._live.hearing_of(event.pid)
        if hearing_id is None and self._composites is not None:
            hearing_id = next(
                (h for h in self._active if self._composites.composite_of(h) == event.pid), None
            )
        if hearing_id is not None and hearing_id in self._active:
            await self._sync(hearing_id)

    async def _on_hearing_state(self, hearing_id: str, state: HearingState) -> None:
        entry = self._active.get(hearing_id)
        system = Actor.system()
        if state is HearingState.IN_SESSION:
            if entry is None:
                if (
                    self._auto_start
                    and hearing_id not in self._stopped_by_judge
                    and self._serves(hearing_id)
                ):
                    self._looked_at.add(hearing_id)
                    hearing = await self._hearings.store.get_hearing(hearing_id)
                    await self._start(hearing, system)
            elif entry.session.state is SessionState.PAUSED:
                await entry.session.resume()
                await self._record_event(hearing_id, system, AuditEvent.RECORDING_RESUMED, {})
        elif state is HearingState.PAUSED and entry is not None:
            if entry.session.state is SessionState.RECORDING:
                await entry.session.pause()
                await self._record_event(hearing_id, system, AuditEvent.RECORDING_PAUSED, {})
        elif state in (HearingState.CLOSED, HearingState.ADJOURNED):
            self._last_alert.pop(hearing_id, None)
            if entry is not None:
                await self._stop(hearing_id, system)

    # -- sessions ---------------------------------------------------------------------------

    async def _resume_interrupted(self, hearing_id: str) -> None:
        """A hearing in session that is not recorded here although it should be: its
        recording was running when its server died (here before a restart, or on another
        node that no longer serves it), or it went into session while no node served it.
        Record it from the first participant who comes back, unless the judge stopped it."""
        if (
            self._closed
            or not self._auto_start
            or hearing_id in self._looked_at
            or hearing_id in self._finishing
            or hearing_id in self._stopped_by_judge
            or not self._serves(hearing_id)
        ):
            return
        self._looked_at.add(hearing_id)  # before the await: one look however many events come
        hearing = await self._hearings.store.get_hearing(hearing_id)
        if hearing.state is not HearingState.IN_SESSION or hearing_id in self._active:
            self._looked_at.discard(hearing_id)  # not yet: look again at the next change
            return
        history = await self._history(hearing_id)
        if history.stopped_by_judge:
            return
        if history.unfinished is not None:
            log.warning("hearing %s: its recording was interrupted; recording again", hearing_id)
        await self._start(hearing, Actor.system())

    async def _history(self, hearing_id: str) -> RecordingHistory:
        return recording_history(await self._hearings.store.list_audit(hearing_id))

    async def _close_interrupted(self, hearing_id: str, continued_in: str) -> dict[str, Any] | None:
        """Close the hearing's recording that a dead server left unfinished (signed final,
        marked interrupted, pointing at ``continued_in``); what the new one says of it."""
        old = (await self._history(hearing_id)).unfinished
        if old is None:
            return None
        detected = datetime.now(UTC)
        try:
            result = await asyncio.to_thread(
                close_interrupted,
                self._root / hearing_id / check_safe_name("recording id", old),
                self._key,
                detected_at=detected,
                continued_in=continued_in,
            )
        except OSError as exc:
            # A full disk, most likely. The judge and clerk hear of it at once; no stop goes
            # into the audit chain, so that the recording is closed when recording starts
            # again with space to write (the judge's start, or the next restart).
            log.error(
                "hearing %s: closing interrupted recording %s failed: %s", hearing_id, old, exc
            )
            await self._on_alert(
                hearing_id,
                RecordingAlert(
                    kind=AlertKind.FINISH_FAILED,
                    hearing_id=hearing_id,
                    recording_id=old,
                    message=(
                        f"The recording left unfinished when the server stopped could not be "
                        f"closed: {exc}. Its intact segments are kept (they verify, unsigned); "
                        "it is closed when recording starts again with space to write."
                    ),
                    at=detected,
                    error=str(exc),
                ),
            )
            return {"recording_id": old, "closed": False, "ended_at": None, "gap_us": None}
        except ValueError as exc:
            log.error(
                "hearing %s: closing interrupted recording %s failed: %s", hearing_id, old, exc
            )
            result = Interrupted(old, False, reason=str(exc))
        await self._hearings.audit(
            hearing_id,
            Actor.system(),
            AuditEvent.RECORDING_STOPPED,
            {"recording_id": old, "interrupted": True, **result.to_json()},
        )
        ended = datetime.fromisoformat(result.ended_at) if result.ended_at else None
        return {
            "recording_id": old,
            "closed": result.closed,
            "ended_at": result.ended_at,
            "gap_us": round((detected - ended).total_seconds() * 1e6) if ended else None,
        }

    async def _start(self, hearing: Hearing, actor: Actor) -> None:
        hid = hearing.id
        recording_id = new_recording_id(datetime.now(UTC))
        continues = await self._close_interrupted(hid, recording_id)

        async def on_alert(alert: RecordingAlert) -> None:
            await self._on_alert(hid, alert)

        session = RecordingSession(
            self._root,
            hid,
            signing_key=self._key,
            on_alert=on_alert,
            options=self._options,
            metadata={
                "case_number": hearing.case_number,
                "court": hearing.court,
                "title": hearing.title,
                "visibility": hearing.visibility.value,
                "kind": hearing.kind.value,
                # the recording a dead server left unfinished, and the time lost between
                **({"continues": continues} if continues is not None else {}),
            },
            recording_id=recording_id,
        )
        try:
            await session.start()
        except RecordingStartError as exc:
            # The alert already went out through on_alert; the hearing goes on.
            log.error("recording of hearing %s could not start: %s", hid, exc)
            return
        self._active[hid] = _Hearing(session, set(), asyncio.Lock())
        self._last_alert.pop(hid, None)
        await self._record_event(
            hid, actor, AuditEvent.RECORDING_STARTED, {"recording_id": session.recording_id}
        )
        await self._sync(hid)

    async def _stop(self, hearing_id: str, actor: Actor) -> None:
        """Stop recording now; the last segments are finished and signed in the background,
        so the action that stopped it (closing the hearing, the judge's stop) answers at once.
        """
        entry = self._active.pop(hearing_id, None)
        if entry is None:
            return
        self._finishing[hearing_id] = entry.session.recording_id
        await self._events.publish(RecordingStateChanged(hearing_id, self.status(hearing_id)))
        self._work.start(
            hearing_id, self._finish(hearing_id, entry, actor), what="finishing the recording"
        )

    async def _finish(self, hearing_id: str, entry: _Hearing, actor: Actor) -> None:
        try:
            async with entry.lock:
                summary = await entry.session.stop()
        finally:
            if self._finishing.get(hearing_id) == entry.session.recording_id:
                del self._finishing[hearing_id]
        await self._record_event(hearing_id, actor, AuditEvent.RECORDING_STOPPED, summary.to_dict())

    async def _finish_failed(self, hearing_id: str, what: str, exc: BaseException) -> None:
        """The judge and clerk hear at once that the recording could not be finished."""
        alert = RecordingAlert(
            kind=AlertKind.FINISH_FAILED,
            hearing_id=hearing_id,
            recording_id="",
            message=f"The recording could not be finished and signed ({what}): {exc}",
            at=datetime.now(UTC),
            error=repr(exc),
        )
        await self._on_alert(hearing_id, alert)
        await self._events.publish(RecordingStateChanged(hearing_id, self.status(hearing_id)))

    async def _sync(self, hearing_id: str) -> None:
        """Record exactly the published tracks of those in the hearing room."""
        entry = self._active.get(hearing_id)
        if entry is None:
            return
        async with entry.lock:
            if entry.session.state in (SessionState.STOPPING, SessionState.STOPPED):
                return
            in_room = await self._live.hearing_room_speakers(hearing_id)
            wanted = {(pid, kind) for pid in in_room for kind in self._taps.published_kinds(pid)}
            for pid, kind in sorted(entry.recorded - wanted):
                # Their media stops being recorded now; writing and signing the last segment
                # takes a disk's while, which the move that took them out must not wait for.
                finishing = entry.session.end_tracks(pid, kind)
                entry.recorded.discard((pid, kind))
                if finishing:
                    self._work.start(
                        hearing_id, _finished(finishing), what=f"finishing a {kind} track"
                    )
            for pid, kind in sorted(wanted - entry.recorded):
                p = in_room[pid]
                try:
                    tap = self._taps.open_encoded_tap(pid, kind)
                except MediaError as exc:  # the track went away between listing and opening
                    log.info("no %s track of %s to record: %s", kind, pid, exc)
                    continue
                await entry.session.add_track(
                    pid,
                    kind,
                    p.display_name,
                    p.role.value,
                    tap,
                    request_keyframe=functools.partial(self._taps.request_keyframe, pid)
                    if kind == "video"
                    else None,
                )
                entry.recorded.add((pid, kind))
            await self._sync_composite(hearing_id, entry)

    async def _sync_composite(self, hearing_id: str, entry: _Hearing) -> None:
        """Record the hearing's composite (view and mix) once it is published."""
        if self._composites is None or entry.composite is not None:
            return
        cid = self._composites.composite_of(hearing_id)
        if cid is None or "video" not in self._taps.published_kinds(cid):
            return
        try:
            video = self._taps.open_encoded_tap(cid, "video")
            audio = (
                self._taps.open_encoded_tap(cid, "audio")
                if "audio" in self._taps.published_kinds(cid)
                else None
            )
        except MediaError as exc:
            log.info("composite of %s not recordable yet: %s", hearing_id, exc)
            return
        composites = self._composites
        await entry.session.add_composite(
            video,
            audio,
            request_keyframe=functools.partial(composites.request_keyframe, hearing_id),
        )
        entry.composite = cid

    async def _on_alert(self, hearing_id: str, alert: RecordingAlert) -> None:
        data = alert.to_dict()
        self._last_alert[hearing_id] = data
        await self._events.publish(RecordingAlertRaised(hearing_id, data))
        event = AuditEvent.RECORDING_FAILED if alert.severity == "error" else None
        if event is not None:
            await self._hearings.audit(hearing_id, Actor.system(), event, data)

    async def _record_event(
        self, hearing_id: str, actor: Actor, event: AuditEvent, data: dict[str, Any]
    ) -> None:
        await self._hearings.audit(hearing_id, actor, event, data)
        await self._events.publish(RecordingStateChanged(hearing_id, self.status(hearing_id)))

    async def close(self) -> None:
        """Stop and sign every recording, and wait for that. Idempotent."""
        self._closed = True
        for hearing_id in list(self._active):
            try:
                await self._stop(hearing_id, Actor.system())
            except Exception:
                log.exception("stopping the recording of hearing %s failed", hearing_id)
        await self._work.close()


async def _finished(tracks: list[asyncio.Task[None]]) -> None:
    # The session logs a track that does not stop cleanly; a write that fails on the way has
    # alerted the judge and clerk already, as it happened.
    await asyncio.gather(*tracks, return_exceptions=True)


def install_recording(app: web.Application) -> None:
    """Recording of every hearing in session, the recordings catalogue and the signing key."""
    settings = app[keys.SETTINGS]
    recording_key = load_or_create_signing_key(settings.effective_recording_key_path)
    recorder = RecordingCoordinator(
        root=settings.effective_recordings_dir,
        signing_key=recording_key,
        taps=app[keys.MEDIA],
        hearings=app[keys.HEARINGS],
        live=app[keys.LIVE],
        events=app[keys.EVENTS],
        auto_start=settings.recording_auto_start,
        composites=app[keys.COMPOSITES],
        options=RecordingOptions(segment_seconds=settings.recording_segment_seconds),
        # the placement is installed after the recorder (which must close first)
        serves=lambda hearing_id: app[keys.PLACEMENT].serves(hearing_id),
    )
    app[keys.EVENTS].subscribe(recorder.on_service_event)
    app[keys.MEDIA_EVENTS].subscribe(recorder.on_media_event)
    app[keys.RECORDINGS] = recorder
    app[keys.RECORDING_CATALOG] = RecordingCatalog(settings.effective_recordings_dir)
    app[keys.RECORDING_PUBLIC_KEY] = (
        public_key_pem(recording_key).decode("ascii"),
        key_fingerprint(recording_key),
    )

    async def recordings(_: web.Application) -> AsyncIterator[None]:
        yield
        await recorder.close()  # finish and sign every recording

    app.cleanup_ctx.append(recordings)
