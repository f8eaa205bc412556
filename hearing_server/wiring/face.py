"""The live face check: the participant's own published camera, decoded only while the
check runs, sampled to the face worker (facekit), judged for face match and liveness.

While a participant is at the face / liveness step (``identifying``: their media reaches
nobody), ``POST /api/me/identity/face/start`` opens a decoded tap on their own video track.
A reader keeps only the newest decoded frame; the check takes it, converts it to RGB (at most
640 pixels wide) and hands it to the worker process, as fast as the worker answers (at most
10 frames a second; detection and landmarks take ~0.04 s of CPU per frame, an encoding,
every 0.5 s, ~0.17 s), until the judge decides or 20 s pass. Then the tap closes
(and with it the decoder, unless something else needs it) and the result goes to the identity
service. Frames live only in memory, for one analysis; nothing of them is stored.

Also the periodic job that deletes reference photos and encodings a configurable time after
their hearing closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Protocol

import numpy as np
from aiohttp import web
from av import VideoFrame

from facekit import (
    Challenge,
    FaceCheck,
    FaceWorker,
    FaceWorkerError,
    PhotoResult,
    run_check,
)
from facekit.images import RGB
from facekit.video import to_rgb
from hearing_server import keys
from hearing_server.core.errors import Conflict
from hearing_server.core.participant import Participant
from hearing_server.media.errors import MediaError
from hearing_server.media.taps import DecodedFrame, MediaKind, Tap
from hearing_server.service.background import BackgroundWork
from hearing_server.service.identity import IdentityService
from hearing_server.store.biometrics import BiometricFiles

log = logging.getLogger(__name__)

MAX_FPS = 10.0  # frames analysed per second at most


class VideoTaps(Protocol):
    def open_decoded_tap(
        self, pid: str, kind: MediaKind, *, max_queued: int | None = None
    ) -> Tap[DecodedFrame]: ...

    def published_kinds(self, pid: str) -> set[MediaKind]: ...


class _Newest:
    """Reads a decoded tap continuously and keeps only its newest frame, so the check always
    analyses what the camera shows now, however long the last analysis took."""

    def __init__(self, tap: Tap[DecodedFrame]) -> None:
        self._tap = tap
        self._frame: VideoFrame | None = None
        self._fresh = asyncio.Event()
        self._ended = False
        self._task = asyncio.create_task(self._read(), name="face check frames")

    async def _read(self) -> None:
        try:
            async for frame in self._tap:
                if isinstance(frame, VideoFrame):
                    self._frame = frame
                    self._fresh.set()
        finally:
            self._ended = True
            self._fresh.set()

    async def next(self, timeout: float) -> VideoFrame | None:
        """The newest frame not taken yet; None when the track ended or ``timeout`` passed."""
        try:
            await asyncio.wait_for(self._fresh.wait(), timeout)
        except TimeoutError:
            return None
        self._fresh.clear()
        frame, self._frame = self._frame, None
        return frame

    async def close(self) -> None:
        self._tap.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class FaceCheckCoordinator:
    """Runs each participant's camera check (one at a time each) and owns the worker."""

    def __init__(self, worker: FaceWorker, media: VideoTaps, identity: IdentityService) -> None:
        self._worker = worker
        self._media = media
        self._identity = identity
        self._work = BackgroundWork("face checks")
        self._running: set[str] = set()

    async def analyse_photo(self, data: bytes) -> PhotoResult:
        try:
            return await self._worker.photo(data)
        except FaceWorkerError as exc:
            raise Conflict(f"the face engine failed: {exc}", code="face_engine_failed") from exc

    def running(self, participant_id: str) -> bool:
        return participant_id in self._running

    def start(
        self,
        p: Participant,
        reference: list[float],
        challenges: tuple[Challenge, ...],
        threshold: float,
    ) -> None:
        if p.id in self._running:
            raise Conflict("your camera check is running", code="check_running")
        if "video" not in self._media.published_kinds(p.id):
            raise Conflict(
                "turn your camera on first: the check looks at your live picture",
                code="no_camera",
            )
        try:
            tap = self._media.open_decoded_tap(p.id, "video", max_queued=4)
        except MediaError as exc:
            raise Conflict(f"your camera cannot be read: {exc}", code="no_camera") from exc
        check = FaceCheck(np.asarray(reference, dtype=np.float64), challenges, threshold)
        self._running.add(p.id)
        self._work.start(p.id, self._run(p, tap, check), what="face check")

    async def _run(self, p: Participant, tap: Tap[DecodedFrame], check: FaceCheck) -> None:
        started = time.monotonic()
        deadline = started + check.settings.time_limit_s + 0.5
        newest = _Newest(tap)

        def now() -> float:
            return time.monotonic() - started

        async def frames() -> AsyncIterator[tuple[float, RGB]]:
            last = 0.0
            while (left := deadline - time.monotonic()) > 0:
                # At most MAX_FPS: more would only cost the worker's core, not judge better.
                wait = last + 1.0 / MAX_FPS - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(min(wait, left))
                frame = await newest.next(max(0.0, deadline - time.monotonic()))
                if frame is None:
                    return
                last = time.monotonic()
                yield now(), to_rgb(frame)

        async def progress(data: dict[str, object]) -> None:
            await self._identity.face_progress(p, data)

        result = None
        failure = None
        try:
            await progress(check.progress(0.0))
            result = await run_check(check, frames(), self._worker.analyse, progress, now=now)
            log.info(
                "face check of %s: %s %.2f s, %d frames (%d encoded), liveness %s",
                p.id, result.match.decision.value, result.seconds, result.frames,
                result.encoded, result.liveness_reason,
            )  # fmt: skip
        except FaceWorkerError as exc:
            log.error("face check of %s: the face worker failed: %s", p.id, exc)
            failure = "engine_failed"
        finally:
            await newest.close()
            self._running.discard(p.id)
        await self._identity.record_face_result(p.id, result, failure)

    async def close(self) -> None:
        await self._work.close(5.0)
        await self._worker.aclose()


def install_face(app: web.Application) -> None:
    """The camera check on the router and the identity service, unless ``face_checks_enabled``
    is off; the biometric files and their periodic purge either way."""
    settings = app[keys.SETTINGS]
    identity = app[keys.IDENTITY]
    files = BiometricFiles(settings.effective_biometrics_dir)
    coordinator = None
    if settings.face_checks_enabled:
        coordinator = FaceCheckCoordinator(FaceWorker(), app[keys.MEDIA], identity)
    identity.set_face_checks(
        coordinator,
        files,
        threshold=settings.face_match_threshold,
        retention=timedelta(days=settings.biometrics_retention_days),
    )
    interval = settings.biometrics_purge_interval_seconds

    async def purge_periodically() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                purged = await identity.purge_biometrics()
                if purged:
                    log.info("biometric data of %d closed hearings deleted", len(purged))
            except Exception:
                log.exception("deleting biometric data failed; trying again later")

    async def lifetime(_: web.Application) -> AsyncIterator[None]:
        purge = asyncio.create_task(purge_periodically(), name="biometrics purge")
        yield
        purge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purge
        if coordinator is not None:
            await coordinator.close()

    app.cleanup_ctx.append(lifetime)
