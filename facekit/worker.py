"""The face worker: face detection, landmarks and encodings in a child process.

Detection and encoding are ~0.1 s of CPU each, in C++ holding the GIL part of the time; in the
server's process that would stall the event loop, and with it forwarding, ICE and DTLS. So they
run in one child process (``spawn``: a fresh interpreter), at a lower CPU priority than the
server, started on first use and loading the models once. If the server dies, even by SIGKILL,
the child exits on its own (:func:`lifeline.guarded_pool`: the guard is the first thing it
runs), as the transcription engine's and the signing worker's children do. If the child dies,
the call fails with :class:`FaceWorkerError` and the next call starts a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import lifeline

from . import engine
from .engine import Analysis
from .images import REFERENCE_FORMATS, RGB, ImageProblem, load_image

log = logging.getLogger(__name__)


class FaceWorkerError(Exception):
    """The worker could not answer (it died, or was closed)."""


@dataclass(frozen=True, slots=True)
class PhotoResult:
    """A photo read and analysed: its problem, or how many faces (and the one encoding)."""

    problem: ImageProblem | None
    analysis: Analysis | None


def analyse_photo_bytes(data: bytes, formats: frozenset[str] | None) -> PhotoResult:
    """In the worker (or directly, in tests): read, validate and analyse a photo."""
    try:
        rgb = load_image(data, formats=formats)
    except ImageProblem as exc:
        return PhotoResult(exc, None)
    return PhotoResult(None, engine.analyse_photo(rgb))


def _child_init(nice: int) -> None:
    # Runs after lifeline's guard (guarded_pool): a worker never outlives the server.
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)
    engine.load_models()


def _child_ready() -> bool:
    return True


def _child_analyse(rgb: RGB, encode_face: bool) -> Analysis:
    return engine.analyse(rgb, encode_face=encode_face)


def _child_photo(data: bytes, formats: frozenset[str] | None) -> PhotoResult:
    return analyse_photo_bytes(data, formats)


class FaceWorker:
    """One child process doing the face work, one request at a time (a single core's worth:
    on two shared cores a second worker would only take the media's share)."""

    def __init__(self, *, nice: int = 5) -> None:
        self._nice = nice
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._closed:
            raise FaceWorkerError("the face worker is closed")
        if self._pool is None:
            # Made here, in the thread that submits and so starts the worker (the parent
            # its guard watches is taken in this thread).
            self._pool = lifeline.guarded_pool("face worker", _child_init, (self._nice,))
        return self._pool

    def _reset(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def _call(self, fn: object, *args: object) -> object:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._ensure_pool(), fn, *args)  # type: ignore[arg-type]
        except BrokenProcessPool as exc:
            log.error("the face worker died; a new one starts on the next call")
            self._reset()
            raise FaceWorkerError(f"the face worker died: {exc}") from exc

    async def start(self) -> None:
        """Start the child and load the models (otherwise the first call does)."""
        await self._call(_child_ready)

    async def analyse(self, rgb: RGB, encode_face: bool) -> Analysis:
        result = await self._call(_child_analyse, rgb, encode_face)
        assert isinstance(result, Analysis)
        return result

    async def photo(
        self, data: bytes, formats: frozenset[str] | None = REFERENCE_FORMATS
    ) -> PhotoResult:
        result = await self._call(_child_photo, data, formats)
        assert isinstance(result, PhotoResult)
        return result

    @property
    def pid(self) -> int | None:
        """The child's pid, once started (tests)."""
        pool = self._pool
        procs = getattr(pool, "_processes", None) if pool is not None else None
        return next(iter(procs), None) if procs else None

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: pool.shutdown(wait=True, cancel_futures=True)
            )
