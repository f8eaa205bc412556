"""StreamAdapter: a VAD plus a batch engine make a streaming engine (livekit/agents' pattern).

Per stream, audio goes to a :class:`~transcription.vad.Segmenter` (run in a single VAD
thread shared by the adapter's streams), each finished utterance into a
:class:`~transcription.spool.SpillQueue`, and one recognition task per stream hands them in
order to the engine (whose own executor runs one recognition at a time). So:

- the event loop only moves buffers; VAD and recognition run in threads;
- when recognition falls behind, utterances wait (in memory up to a bound, then spooled to
  disk); none is dropped, and a failed one yields ``RECOGNITION_FAILED`` with its times;
- interim results are best effort: while someone speaks, and only when the engine is idle,
  the audio so far is recognised every ``interim_interval_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .spool import SpillQueue, SpoolReadError
from .stt import (
    STT,
    Decoding,
    RecognizeStream,
    Samples,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
    STTError,
)
from .vad import (
    EnergyVAD,
    Segmenter,
    SegmenterEvent,
    SegmenterSettings,
    SpeechStarted,
    Utterance,
    VADFactory,
    default_vad_factory,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamSettings:
    segmenter: SegmenterSettings = field(default_factory=SegmenterSettings)
    interim_interval_s: float | None = 1.0  # None: no interim results
    min_interim_s: float = 0.8  # less speech than this gets no interim result
    max_in_memory: int = 8  # utterances waiting in memory per stream; more are spooled
    spool_dir: Path | None = None  # default: the system temp dir
    retries: int = 2  # extra attempts after a retryable error
    retry_backoff_s: float = 0.25
    max_vad_batch_s: float = 1.0  # audio scored per VAD call at most


class StreamAdapter(STT):
    """Wraps a batch :class:`STT` into a streaming one.

    ``owns_stt``: closing the adapter closes the wrapped engine too (False when the engine
    is shared, e.g. one loaded model serving every hearing).
    """

    def __init__(
        self,
        stt: STT,
        vad: VADFactory | None = None,
        settings: StreamSettings | None = None,
        *,
        owns_stt: bool = True,
    ) -> None:
        self.settings = settings or StreamSettings()
        self.stt = stt
        #: no interim results while set (the server is overloaded: finals only); the
        #: streams read it each time they would start one
        self.interims_paused = False
        self._owns_stt = owns_stt
        self._vad_factory = vad or default_vad_factory()
        self._vad_executor: Executor = ThreadPoolExecutor(max_workers=1,
                                                          thread_name_prefix="stt-vad")
        super().__init__(
            name=stt.name,
            capabilities=STTCapabilities(
                streaming=True,
                interim_results=self.settings.interim_interval_s is not None,
                languages=stt.capabilities.languages,
                word_timestamps=stt.capabilities.word_timestamps,
                offline=stt.capabilities.offline,
            ),
            executor=self._vad_executor,
        )

    @property
    def pending_requests(self) -> int:
        return self.stt.pending_requests

    def _recognize_blocking(self, audio: Samples, language: str | None) -> SpeechEvent:
        raise AssertionError("StreamAdapter.recognize delegates")  # pragma: no cover

    async def prewarm(self) -> None:
        await self.stt.prewarm()

    async def recognize(
        self, audio: Samples, *, language: str | None = None, decoding: Decoding | None = None
    ) -> SpeechEvent:
        return await self.stt.recognize(audio, language=language, decoding=decoding)

    def stream(
        self, *, language: str | None = None, decoding: Decoding | None = None
    ) -> AdapterStream:
        return AdapterStream(self, language, decoding)

    async def aclose(self) -> None:
        if self._closed:
            return
        if self._owns_stt:
            await self.stt.aclose()
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: self._vad_executor.shutdown(wait=True)
        )


class _Flush:
    pass


class _End:
    pass


_FLUSH = _Flush()
_END = _End()


class AdapterStream(RecognizeStream):
    def __init__(
        self, adapter: StreamAdapter, language: str | None, decoding: Decoding | None = None
    ) -> None:
        self._adapter = adapter
        self._s = adapter.settings
        self._language = language
        self._decoding = decoding
        self._segmenter = Segmenter(adapter._vad_factory(), self._s.segmenter)
        self._input: deque[Samples | _Flush | _End] = deque()
        self._input_ready = asyncio.Event()
        self._queue = SpillQueue(self._s.max_in_memory, self._s.spool_dir)
        self._events: asyncio.Queue[SpeechEvent | None] = asyncio.Queue()
        self._input_ended = False
        self._closed = False
        self._broken = False
        self._recognizing = False
        self._last_interim = 0.0
        self._last_ended_id = 0  # segments up to this one have ended (no more interims)
        self._interim_task: asyncio.Task[None] | None = None
        self.vad_failures = 0
        self.failed = 0
        self._vad_task = asyncio.create_task(self._run_vad(), name="stt-stream-vad")
        self._rec_task = asyncio.create_task(self._run_recognition(), name="stt-stream-rec")

    # -- input ----------------------------------------------------------------------------

    def push_audio(self, samples: Samples) -> None:
        """Queue audio. Raises :class:`STTError` if the stream broke (open a new one)."""
        if self._broken:
            raise STTError("stream is broken", retryable=True, engine=self._adapter.name)
        if self._input_ended:
            raise RuntimeError("input has ended")
        if samples.size:
            self._input.append(np.asarray(samples, dtype=np.float32).reshape(-1))
            self._input_ready.set()

    def flush(self) -> None:
        if self._input_ended:
            return
        self._input.append(_FLUSH)
        self._input_ready.set()

    def end_input(self) -> None:
        if self._input_ended:
            return
        self._input_ended = True
        self._input.append(_END)
        self._input_ready.set()

    @property
    def backlog(self) -> int:
        return len(self._queue) + (1 if self._recognizing else 0)

    @property
    def spilled(self) -> int:
        return self._queue.spilled

    @property
    def max_queue_depth(self) -> int:
        return self._queue.max_depth

    # -- output ---------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[SpeechEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[SpeechEvent]:
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    async def aclose(self) -> None:
        """Stop now: pending utterances are discarded (use end_input to drain instead)."""
        if self._closed:
            return
        self._closed = True
        self._input_ended = True
        tasks = [t for t in (self._vad_task, self._rec_task, self._interim_task) if t]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._queue.discard()
        self._events.put_nowait(None)

    # -- VAD ------------------------------------------------------------------------------

    async def _run_vad(self) -> None:
        loop = asyncio.get_running_loop()
        max_batch = int(self._s.max_vad_batch_s * 16000)
        try:
            while True:
                while not self._input:
                    self._input_ready.clear()
                    await self._input_ready.wait()
                item = self._input.popleft()
                if isinstance(item, np.ndarray):
                    parts, size = [item], item.size
                    while (
                        self._input and isinstance(self._input[0], np.ndarray) and size < max_batch
                    ):
                        nxt = self._input.popleft()
                        assert isinstance(nxt, np.ndarray)
                        parts.append(nxt)
                        size += nxt.size
                    chunk = parts[0] if len(parts) == 1 else np.concatenate(parts)
                    events = await loop.run_in_executor(
                        self._adapter._vad_executor, self._feed, chunk
                    )
                    self._handle(events)
                    self._maybe_interim()
                    continue
                events = await loop.run_in_executor(
                    self._adapter._vad_executor, self._segmenter.flush
                )
                self._handle(events)
                if isinstance(item, _End):
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            # Only a bug gets here (the VAD itself falls back): say so, and let the
            # recognition task drain what was queued.
            log.exception("VAD task failed; this stream takes no more audio")
            self.vad_failures += 1
            self._broken = True
        finally:
            self._queue.close()

    def _feed(self, chunk: Samples) -> list[SegmenterEvent]:
        """Runs in the VAD thread. A failing VAD model is replaced by the energy VAD."""
        try:
            return self._segmenter.feed(chunk)
        except Exception:
            self.vad_failures += 1
            log.exception("VAD failed; continuing with the energy VAD")
            self._segmenter.vad = EnergyVAD()
            return self._segmenter.feed(chunk)

    def _handle(self, events: list[SegmenterEvent]) -> None:
        for ev in events:
            if isinstance(ev, SpeechStarted):
                t = ev.start_sample / 16000
                self._emit(SpeechEvent(SpeechEventType.START_OF_SPEECH, t, t,
                                       segment_id=ev.segment_id))
            else:
                self._last_ended_id = max(self._last_ended_id, ev.segment_id)
                self._queue.put_nowait(ev)
                self._emit(SpeechEvent(SpeechEventType.END_OF_SPEECH, ev.start, ev.end,
                                       segment_id=ev.segment_id))

    def _maybe_interim(self) -> None:
        interval = self._s.interim_interval_s
        if interval is None or not self._segmenter.speaking or self._adapter.interims_paused:
            return
        if self._segmenter.pausing:
            # The speaker may have finished: an interim started now would hold the single
            # engine worker while the final result for the same words waits behind it.
            return
        if self._interim_task is not None and not self._interim_task.done():
            return
        if len(self._queue) or self._recognizing or self._adapter.pending_requests:
            return  # behind or busy: finals first, interim results are best effort
        now = time.monotonic()
        if now - self._last_interim < interval:
            return
        current = self._segmenter.current()
        if current is None or current.duration < self._s.min_interim_s:
            return
        self._last_interim = now
        self._interim_task = asyncio.create_task(self._interim(current), name="stt-interim")

    async def _interim(self, utt: Utterance) -> None:
        try:
            event = await self._adapter.stt.recognize(
                utt.samples, language=self._language, decoding=self._decoding
            )
        except STTError as exc:
            log.debug("interim recognition failed: %s", exc)
            return
        if utt.segment_id <= self._last_ended_id or self._closed or not event.alternatives:
            return  # the utterance ended meanwhile: its final result is coming
        self._emit(self._shift(event, utt, SpeechEventType.INTERIM_TRANSCRIPT))

    # -- recognition ----------------------------------------------------------------------

    async def _run_recognition(self) -> None:
        try:
            while True:
                try:
                    utt = await self._queue.get()
                except SpoolReadError as exc:
                    self.failed += 1
                    start = exc.start_sample / 16000
                    err = STTError(str(exc), retryable=False, engine=self._adapter.name)
                    self._emit(SpeechEvent(SpeechEventType.RECOGNITION_FAILED, start,
                                           start + exc.n_samples / 16000,
                                           segment_id=exc.segment_id, error=err))
                    continue
                if utt is None:
                    break
                self._recognizing = True
                try:
                    self._emit(await self._recognize(utt))
                finally:
                    self._recognizing = False
        finally:
            await self._stop_interim()
            if not self._closed:
                self._events.put_nowait(None)

    async def _recognize(self, utt: Utterance) -> SpeechEvent:
        attempt = 0
        while True:
            try:
                event = await self._adapter.stt.recognize(
                    utt.samples, language=self._language, decoding=self._decoding
                )
            except STTError as exc:
                if exc.retryable and attempt < self._s.retries:
                    attempt += 1
                    log.warning("recognition failed (%s); retry %d", exc, attempt)
                    await asyncio.sleep(self._s.retry_backoff_s * 2 ** (attempt - 1))
                    continue
                self.failed += 1
                log.error("recognition of %.2f-%.2f s failed: %s", utt.start, utt.end, exc)
                return SpeechEvent(SpeechEventType.RECOGNITION_FAILED, utt.start, utt.end,
                                   segment_id=utt.segment_id, error=exc,
                                   engine=self._adapter.name)
            return self._shift(event, utt, SpeechEventType.FINAL_TRANSCRIPT)

    async def _stop_interim(self) -> None:
        task = self._interim_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    @staticmethod
    def _shift(event: SpeechEvent, utt: Utterance, kind: SpeechEventType) -> SpeechEvent:
        """Utterance-relative times to stream times."""
        alts = tuple(
            SpeechData(a.text, utt.start + a.start, utt.start + a.end, a.language, a.confidence)
            for a in event.alternatives
        )
        final = kind is SpeechEventType.FINAL_TRANSCRIPT
        return SpeechEvent(kind, utt.start, utt.end, alts, segment_id=utt.segment_id,
                           processing_s=event.processing_s, engine=event.engine,
                           audio=utt.samples if final else None)

    def _emit(self, event: SpeechEvent) -> None:
        if not self._closed:
            self._events.put_nowait(event)
