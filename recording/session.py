"""A recording session: the record of one hearing sitting, from start to stop.

Runs on the event loop; each track's muxing and file I/O happen on its recorder's thread.
Tracks come and go as people enter and leave the hearing room (``add_track`` /
``remove_track``); a track also ends by itself when its frame source ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mediakit import close_source

from .alerts import AlertKind, RecordingAlert
from .clock import HearingClock, iso, to_us
from .frames import EncodedFrameLike
from .manifest import (
    FORMAT,
    AfterWriteError,
    EntryType,
    ManifestError,
    ManifestWriter,
    SignatureError,
)
from .model import RecordingOptions, TrackIdentity, TrackStats
from .paths import check_safe_name, track_key
from .recorder import TrackRecorder
from .signing import key_fingerprint

log = logging.getLogger(__name__)

AlertCallback = Callable[[RecordingAlert], Awaitable[None]]
KeyframeRequest = Callable[[], None]


class SessionState(StrEnum):
    CREATED = "created"
    RECORDING = "recording"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"


class RecordingStateError(Exception):
    """The call does not fit the session's state (e.g. add_track before start)."""


class RecordingStartError(Exception):
    """The recording directory or its manifest could not be created."""


@dataclass(frozen=True, slots=True)
class RecordingSummary:
    hearing_id: str
    recording_id: str
    directory: Path
    started_at: datetime
    stopped_at: datetime
    tracks: int
    segments: int
    incomplete_segments: int
    frames_lost: int
    entries: int
    head_hash: str
    signed: bool  # the final signature is on disk
    # entries that could never be written (the disk stayed full): lost with the session
    unwritten_entries: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "hearing_id": self.hearing_id,
            "recording_id": self.recording_id,
            "directory": str(self.directory),
            "started_at": iso(self.started_at),
            "stopped_at": iso(self.stopped_at),
            "tracks": self.tracks,
            "segments": self.segments,
            "incomplete_segments": self.incomplete_segments,
            "frames_lost": self.frames_lost,
            "entries": self.entries,
            "head_hash": self.head_hash,
            "signed": self.signed,
            "unwritten_entries": self.unwritten_entries,
        }


@dataclass(slots=True)
class _Track:
    recorder: TrackRecorder
    sources: list[AsyncIterator[EncodedFrameLike]]
    pumps: list[asyncio.Task[None]] = field(default_factory=list)
    supervisor: asyncio.Task[None] | None = None
    reason: str = "ended"
    ending: bool = False  # no frame is taken any more; the last segment is being finished
    stats: TrackStats | None = None


def new_recording_id(at: datetime) -> str:
    """``rec-<UTC yyyymmddThhmmssZ>-<6 hex>``: sorts by time, unique in practice."""
    return f"rec-{at.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


class RecordingSession:
    """Records one hearing: per-participant tracks (and the composite) into a signed record.

    ``root`` is the recordings directory; this session writes
    ``root/<hearing_id>/<recording_id>/``. ``on_alert`` is awaited (as its own task) for
    every :class:`RecordingAlert`, as soon as the problem happens. ``metadata`` (case number,
    court, visibility...) goes into the manifest's first entry.
    """

    def __init__(
        self,
        root: Path,
        hearing_id: str,
        *,
        signing_key: Ed25519PrivateKey,
        on_alert: AlertCallback | None = None,
        options: RecordingOptions | None = None,
        metadata: Mapping[str, Any] | None = None,
        recording_id: str | None = None,
    ) -> None:
        self.hearing_id = check_safe_name("hearing id", hearing_id)
        self._root = Path(root)
        self._key = signing_key
        self._on_alert = on_alert
        self.options = options or RecordingOptions()
        self._metadata = dict(metadata or {})
        self._requested_id = (
            None if recording_id is None else check_safe_name("recording id", recording_id)
        )
        self.recording_id = self._requested_id or ""
        self.clock: HearingClock | None = None
        self._state = SessionState.CREATED
        self._manifest: ManifestWriter | None = None
        self._tracks: dict[str, _Track] = {}
        self._ended: list[_Track] = []
        self._numbers = 0
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._alert_tasks: set[asyncio.Task[None]] = set()
        self.recent_alerts: deque[RecordingAlert] = deque(maxlen=50)
        self._summary: RecordingSummary | None = None
        self._last_alert: dict[AlertKind, float] = {}

    # -- properties -----------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def directory(self) -> Path:
        if not self.recording_id:
            raise RecordingStateError("the recording has not started")
        return self._root / self.hearing_id / self.recording_id

    @property
    def queued_frames(self) -> int:
        """Frames waiting for this recording's track threads."""
        return sum(t.recorder.queued for t in self._tracks.values())

    def tracks(self) -> list[TrackIdentity]:
        """The tracks being recorded now."""
        return [t.recorder.identity for t in self._tracks.values()]

    def status(self) -> dict[str, Any]:
        """A JSON-ready snapshot for the judge's and clerk's screens."""
        return {
            "hearing_id": self.hearing_id,
            "recording_id": self.recording_id or None,
            "state": self._state.value,
            "started_at": iso(self.clock.origin) if self.clock else None,
            "tracks": [
                {"track": i.key, "pid": i.pid, "kind": i.kind, "name": i.name, "role": i.role}
                for i in self.tracks()
            ],
            "entries": self._manifest.count if self._manifest else 0,
            "recent_alerts": [a.to_dict() for a in self.recent_alerts],
        }

    # -- control --------------------------------------------------------------------

    async def start(self) -> None:
        """Create the recording directory and manifest and start the hearing clock."""
        async with self._lock:
            if self._state is not SessionState.CREATED:
                raise RecordingStateError(f"cannot start a recording that is {self._state}")
            self._loop = asyncio.get_running_loop()
            self.clock = HearingClock()
            if not self.recording_id:
                self.recording_id = new_recording_id(self.clock.origin)
            directory = self.directory
            try:
                self._manifest = await asyncio.to_thread(
                    ManifestWriter,
                    directory,
                    hearing_id=self.hearing_id,
                    recording_id=self.recording_id,
                    signing_key=self._key,
                )
            except OSError as exc:
                self._emit(
                    self._make_alert(
                        AlertKind.WRITE_FAILED,
                        f"Recording could not start: cannot create {directory}: {exc}",
                        error=str(exc),
                    )
                )
                raise RecordingStartError(f"cannot create {directory}: {exc}") from exc
            self._state = SessionState.RECORDING
            await self._append(
                EntryType.RECORDING_STARTED,
                {
                    "format": FORMAT,
                    "hearing_id": self.hearing_id,
                    "recording_id": self.recording_id,
                    "started_at": iso(self.clock.origin),
                    "segment_seconds_us": to_us(self.options.segment_seconds),
                    "key_fingerprint": key_fingerprint(self._key),
                    "metadata": self._metadata,
                },
            )

    async def pause(self) -> None:
        """Stop writing: every open segment is finished. Frames that arrive while paused
        are dropped (counted, not lost)."""
        async with self._lock:
            if self._state is not SessionState.RECORDING:
                raise RecordingStateError(f"cannot pause a recording that is {self._state}")
            self._state = SessionState.PAUSED
            await self._command_all("pause")
            await self._append(EntryType.PAUSED, {"at_us": self._now_us()})

    async def resume(self) -> None:
        """Write again; video tracks start their next segment at their next keyframe."""
        async with self._lock:
            if self._state is not SessionState.PAUSED:
                raise RecordingStateError(f"cannot resume a recording that is {self._state}")
            self._state = SessionState.RECORDING
            await self._append(EntryType.RESUMED, {"at_us": self._now_us()})
            await self._command_all("resume")

    async def stop(self) -> RecordingSummary:
        """Finish every track, write the last entry and sign the manifest (final).

        Idempotent: a second call returns the same summary.
        """
        async with self._lock:
            if self._summary is not None:
                return self._summary
            if self._state is SessionState.CREATED:
                raise RecordingStateError("the recording was never started")
            self._state = SessionState.STOPPING
            handles = list(self._tracks.values())
            for handle in handles:
                _stop_taking(handle, "recording stopped")  # a track ending already keeps its reason
            for handle in handles:
                if handle.supervisor is not None:
                    await asyncio.gather(handle.supervisor, return_exceptions=True)
            assert self._manifest is not None and self.clock is not None
            stopped = datetime.now(UTC)
            stats = [t.stats for t in self._ended if t.stats is not None]
            segments = sum(s.segments for s in stats)
            incomplete = sum(s.incomplete_segments for s in stats)
            lost = sum(s.frames_lost for s in stats)
            await self._append(
                EntryType.RECORDING_STOPPED,
                {
                    "stopped_at": iso(stopped),
                    "duration_us": self._now_us(),
                    "tracks": len(self._ended),
                    "segments": segments,
                    "incomplete_segments": incomplete,
                    "frames_lost": lost,
                },
            )
            signed = await self._sign_final()
            manifest = self._manifest
            unwritten = manifest.pending
            await asyncio.to_thread(manifest.close)
            if self._alert_tasks:
                await asyncio.gather(*list(self._alert_tasks), return_exceptions=True)
            self._state = SessionState.STOPPED
            self._summary = RecordingSummary(
                hearing_id=self.hearing_id,
                recording_id=self.recording_id,
                directory=self.directory,
                started_at=self.clock.origin,
                stopped_at=stopped,
                tracks=len(self._ended),
                segments=segments,
                incomplete_segments=incomplete,
                frames_lost=lost,
                entries=manifest.count,
                head_hash=manifest.head_hash,
                signed=signed,
                unwritten_entries=unwritten,
            )
            return self._summary

    # -- tracks ---------------------------------------------------------------------

    async def add_track(
        self,
        pid: str,
        kind: str,
        name: str,
        role: str,
        frames: AsyncIterator[EncodedFrameLike],
        *,
        request_keyframe: KeyframeRequest | None = None,
    ) -> str:
        """Record one participant track (``kind`` audio or video) from its encoded frames.

        Returns the track's key. A track already recorded for the same ``pid`` and ``kind``
        (a reconnect) is finished first. ``request_keyframe`` (optional, called on the event
        loop) asks the publisher for a keyframe: the recorder uses it shortly before a video
        segment is due and after losing frames, so cuts happen on time.
        """
        if kind not in ("audio", "video"):
            raise ValueError(f"kind must be audio or video, not {kind!r}")
        for key, handle in list(self._tracks.items()):
            ident = handle.recorder.identity
            if ident.pid == pid and ident.kind == kind and not handle.ending:
                await self._end_track(key, "replaced")
        return self._add(pid, kind, name, role, [kind], [frames], request_keyframe)

    async def add_composite(
        self,
        video: AsyncIterator[EncodedFrameLike],
        audio: AsyncIterator[EncodedFrameLike] | None = None,
        *,
        name: str = "courtroom composite",
        request_keyframe: KeyframeRequest | None = None,
    ) -> str:
        """Record the composite: H.264 (or VP8) video with its audio mix (Opus, or raw
        AAC-LC with codec ``audio/aac``) muxed together, segments cut at video keyframes."""
        kinds = ["video"] if audio is None else ["video", "audio"]
        sources = [video] if audio is None else [video, audio]
        return self._add(None, "composite", name, "composite", kinds, sources, request_keyframe)

    async def remove_track(self, pid: str, kind: str | None = None) -> None:
        """Finish the tracks of ``pid`` (only its ``kind`` track if given); returns when
        their last segments are in the manifest."""
        finishing = self.end_tracks(pid, kind)
        if finishing:
            await asyncio.gather(*finishing, return_exceptions=True)

    def end_tracks(self, pid: str, kind: str | None = None) -> list[asyncio.Task[None]]:
        """Stop recording the tracks of ``pid`` (only its ``kind`` track if given) now: no
        frame that arrives after this call is written. Returns their finishing (the last
        segment written, hashed and in the manifest), for the caller to await or to leave to
        the background; :meth:`stop` waits for it in any case."""
        finishing = []
        for handle in list(self._tracks.values()):
            ident = handle.recorder.identity
            if ident.pid == pid and (kind is None or ident.kind == kind):
                _stop_taking(handle, "removed")
                if handle.supervisor is not None:
                    finishing.append(handle.supervisor)
        return finishing

    def _add(
        self,
        pid: str | None,
        kind: str,
        name: str,
        role: str,
        input_kinds: list[str],
        sources: list[AsyncIterator[EncodedFrameLike]],
        request_keyframe: KeyframeRequest | None,
    ) -> str:
        if self._state not in (SessionState.RECORDING, SessionState.PAUSED):
            raise RecordingStateError(f"cannot add a track to a recording that is {self._state}")
        assert self._manifest is not None and self.clock is not None
        self._numbers += 1
        key = track_key(self._numbers, kind, pid)
        identity = TrackIdentity(key=key, pid=pid or kind, kind=kind, name=name, role=role)
        recorder = TrackRecorder(
            identity,
            input_kinds,
            directory=self.directory,
            manifest=self._manifest,
            clock=self.clock,
            options=self.options,
            emit=self._emit,
            request_keyframe=self._threadsafe(request_keyframe),
            paused=self._state is SessionState.PAUSED,
        )
        handle = _Track(recorder=recorder, sources=sources)
        recorder.start()
        handle.pumps = [
            asyncio.create_task(self._pump(recorder, i, src), name=f"recording-pump-{key}-{i}")
            for i, src in enumerate(sources)
        ]
        handle.supervisor = asyncio.create_task(self._supervise(key, handle))
        self._tracks[key] = handle
        return key

    async def _end_track(self, key: str, reason: str) -> None:
        handle = self._tracks.get(key)
        if handle is None:
            return
        _stop_taking(handle, reason)
        if handle.supervisor is not None:
            await asyncio.gather(handle.supervisor, return_exceptions=True)

    async def _pump(
        self, recorder: TrackRecorder, index: int, frames: AsyncIterator[EncodedFrameLike]
    ) -> None:
        try:
            async for frame in frames:
                recorder.offer(index, frame, _dropped(frames))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("recording source of %s failed", recorder.identity.key)
            self._emit(
                self._make_alert(
                    AlertKind.TRACK_FAILED,
                    f"The media of {recorder.identity.name} stopped reaching the recorder: {exc}",
                    track=recorder.identity.key,
                    pid=recorder.identity.pid,
                    error=str(exc),
                )
            )

    async def _supervise(self, key: str, handle: _Track) -> None:
        """When every source of a track has ended (or was cancelled), finish the track."""
        await asyncio.gather(*handle.pumps, return_exceptions=True)
        for src in handle.sources:
            await _close_source(src)
        try:
            handle.stats = await asyncio.wrap_future(handle.recorder.command("stop", handle.reason))
        except Exception:
            log.exception("recorder %s did not stop cleanly", key)
        self._tracks.pop(key, None)
        self._ended.append(handle)

    async def _command_all(self, name: str) -> None:
        futures = [asyncio.wrap_future(t.recorder.command(name)) for t in self._tracks.values()]
        results = await asyncio.gather(*futures, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.error("recorder %s failed: %r", name, result)

    # -- manifest and alerts --------------------------------------------------------

    async def _append(self, entry_type: EntryType, data: dict[str, Any]) -> None:
        manifest = self._manifest
        assert manifest is not None
        try:
            recovered = await asyncio.to_thread(manifest.append, entry_type, data)
        except ManifestError as exc:
            self._emit(
                self._make_alert(
                    AlertKind.MANIFEST_FAILED,
                    "The recording's manifest cannot be written; entries are kept and will "
                    f"be written when possible: {exc}",
                    error=str(exc),
                )
            )
        except (SignatureError, AfterWriteError) as exc:
            self._emit(
                self._make_alert(
                    AlertKind.SIGN_FAILED, f"Checkpoint signature failed: {exc}", error=str(exc)
                )
            )
        else:
            if recovered:
                self._emit(
                    self._make_alert(
                        AlertKind.RECOVERED,
                        "The recording's manifest can be written again; no entry was lost.",
                    )
                )

    async def _sign_final(self) -> bool:
        manifest = self._manifest
        assert manifest is not None
        try:
            await asyncio.to_thread(manifest.sign, final=True)
        except (ManifestError, SignatureError) as exc:
            unwritten = manifest.pending
            lost = (
                f" {unwritten} entries could not be written and are lost (the segments they "
                "name stay as .part files, outside the record)."
                if unwritten
                else ""
            )
            # The last word on this recording: never held back by the repeat limit that
            # spares people an alert per entry while the disk is full.
            self._emit(
                self._make_alert(
                    AlertKind.SIGN_FAILED,
                    f"The recording stopped but its manifest could not be signed: {exc}. "
                    f"Every segment listed verifies, as unsigned.{lost}",
                    error=str(exc),
                ),
                always=True,
            )
            return False
        return True

    def _now_us(self) -> int:
        assert self.clock is not None
        return to_us(self.clock.now())

    def _make_alert(self, kind: AlertKind, message: str, **fields: Any) -> RecordingAlert:
        return RecordingAlert(
            kind=kind,
            hearing_id=self.hearing_id,
            recording_id=self.recording_id,
            message=message,
            at=datetime.now(UTC),
            **fields,
        )

    def _emit(self, alert: RecordingAlert, *, always: bool = False) -> None:
        """Deliver an alert from any thread: ``on_alert`` runs as a task on the loop.
        ``always``: not held back by ``alert_repeat_seconds``."""
        loop = self._loop
        if loop is None or loop.is_closed():
            log.error("recording alert (no loop): %s", alert.message)
            return
        try:
            loop.call_soon_threadsafe(self._deliver, alert, always)
        except RuntimeError:
            log.error("recording alert (loop closed): %s", alert.message)

    def _deliver(self, alert: RecordingAlert, always: bool = False) -> None:
        if alert.kind in (AlertKind.MANIFEST_FAILED, AlertKind.SIGN_FAILED) and not always:
            # Every track hits the same full disk: tell people once per period, not per entry.
            now = time.monotonic()
            last = self._last_alert.get(alert.kind)
            if last is not None and now - last < self.options.alert_repeat_seconds:
                return
            self._last_alert[alert.kind] = now
        elif alert.kind is AlertKind.RECOVERED and alert.track is None:
            self._last_alert.pop(AlertKind.MANIFEST_FAILED, None)
        self.recent_alerts.append(alert)
        log.warning("recording %s: %s", alert.kind.value, alert.message)
        if self._on_alert is None:
            return
        task = asyncio.ensure_future(self._call_alert(alert))
        self._alert_tasks.add(task)
        task.add_done_callback(self._alert_tasks.discard)

    async def _call_alert(self, alert: RecordingAlert) -> None:
        assert self._on_alert is not None
        try:
            await self._on_alert(alert)
        except Exception:
            log.exception("on_alert failed for %s", alert.kind.value)

    def _threadsafe(self, callback: KeyframeRequest | None) -> KeyframeRequest | None:
        if callback is None:
            return None
        loop = self._loop
        assert loop is not None

        def request() -> None:
            with contextlib.suppress(RuntimeError):  # loop closed: nobody to ask
                loop.call_soon_threadsafe(callback)

        return request


def _stop_taking(handle: _Track, reason: str) -> None:
    """Take no more frames for ``handle``'s track; its supervisor then finishes it with
    ``reason``, unless it was ending already (the first reason stays)."""
    if handle.ending:
        return
    handle.ending = True
    handle.reason = reason
    for pump in handle.pumps:
        pump.cancel()


def _dropped(frames: object) -> int:
    value = getattr(frames, "dropped", 0)
    return value if isinstance(value, int) else 0


async def _close_source(frames: object) -> None:
    try:
        await close_source(frames)
    except Exception:
        log.exception("closing a recording source failed")
