"""Run an engine in a child process, at a lower CPU priority than the server.

In a thread, recognition still competes with the event loop for the GIL (feature
extraction, decoding loops and tokenisation are Python and NumPy); on a loaded 2-core machine
that showed as event-loop stalls of a few hundred milliseconds. In a child process the server's
loop (signaling and the SFU's forwarding) never waits for it, and ``nice`` makes the kernel
prefer the server when cores are short. The model is loaded once, in the child; audio goes
over a pipe (~64 kB per second of speech).

The child is started with ``spawn`` (a fresh interpreter: forking a process that runs
threads and an event loop is unsafe). If it dies, the recognition fails with a retryable
:class:`~transcription.stt.STTError` and the next call starts a new child. If the server dies
(even by SIGKILL), the child exits on its own: :func:`lifeline.guard` is the first thing it
runs. Without it the worker would wait forever for work on a pipe it holds both ends of, and
multiprocessing's resource tracker, which exits once nobody holds its pipe, with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import lifeline

from ..stt import STT, Decoding, Samples, SpeechEvent, STTError
from .faster_whisper import FasterWhisperSettings, FasterWhisperSTT
from .pocketsphinx import PocketSphinxSettings, PocketSphinxSTT

log = logging.getLogger(__name__)

EngineSpec = tuple[str, Any]
"""("faster-whisper", FasterWhisperSettings) or ("pocketsphinx", PocketSphinxSettings)."""

_engine: STT | None = None  # the engine, in the child process


def build(spec: EngineSpec) -> STT:
    kind, settings = spec
    if kind == "faster-whisper":
        assert settings is None or isinstance(settings, FasterWhisperSettings)
        return FasterWhisperSTT(settings)
    if kind == "pocketsphinx":
        assert settings is None or isinstance(settings, PocketSphinxSettings)
        return PocketSphinxSTT(settings)
    raise ValueError(f"unknown engine {kind!r}")


def _child_init(spec: EngineSpec, nice: int) -> None:
    global _engine
    if nice:
        with contextlib.suppress(OSError):  # not allowed: run at normal priority
            os.nice(nice)
    _engine = build(spec)


def _child_load() -> None:
    assert _engine is not None
    _engine._load()


def _child_recognize(
    audio: Samples, language: str | None, decoding: Decoding | None
) -> SpeechEvent:
    assert _engine is not None
    return _engine._recognize_with(audio, language, decoding)


class ProcessSTT(STT):
    """The engine ``spec`` names, in a child process (one recognition at a time)."""

    def __init__(self, spec: EngineSpec, *, nice: int = 5) -> None:
        probe = build(spec)  # cheap: resolves the model and capabilities, loads nothing
        super().__init__(name=probe.name, capabilities=probe.capabilities)
        self._spec = spec
        self._nice = nice
        self._pool: ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Made in the thread that submits and so starts the worker: it watches us.
            self._pool = lifeline.guarded_pool(
                f"transcription engine ({self._spec[0]})", _child_init, (self._spec, self._nice)
            )
        return self._pool

    def _reset_pool(self) -> None:
        pool, self._pool = self._pool, None
        self._loaded = False
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _recognize_blocking(self, audio: Samples, language: str | None) -> SpeechEvent:
        raise AssertionError("ProcessSTT runs recognition in its child")  # pragma: no cover

    async def prewarm(self) -> None:
        if self._loaded:
            return
        async with self._load_lock:
            if self._loaded:
                return
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self._ensure_pool(), _child_load)
            except STTError:
                self._reset_pool()
                raise
            except BrokenProcessPool as exc:
                self._reset_pool()
                raise STTError(f"engine process died: {exc}", retryable=True,
                               engine=self.name) from exc
            self._loaded = True

    async def _run(
        self, audio: Samples, language: str | None, decoding: Decoding | None = None
    ) -> SpeechEvent:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._ensure_pool(), _child_recognize, audio,
                                              language, decoding)
        except BrokenProcessPool as exc:
            log.error("%s: engine process died; a new one starts on the next call", self.name)
            self._reset_pool()
            raise STTError(f"engine process died: {exc}", retryable=True,
                           engine=self.name) from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        await super().aclose()
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: pool.shutdown(wait=True, cancel_futures=True)
            )
