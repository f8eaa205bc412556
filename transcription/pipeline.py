"""The transcription pipeline of one hearing: participants' decoded audio in, captions and
transcript segments out.

Per participant stream (``add_participant``): decoded ``av.AudioFrame`` objects (48 kHz from
the media layer's decoded tap, any layout) → :class:`~transcription.audio.Resampler`
(16 kHz mono) → a streaming STT (a :class:`~transcription.streaming.StreamAdapter` around a
batch engine: VAD segmenter, bounded spill queue, engine in its own thread) → events →

- interim and final :class:`Caption` objects to ``on_caption`` (the app pushes them through
  signaling); a final caption is ``late`` when it came more than ``late_after_s`` after the
  speech ended;
- every final :class:`TranscriptSegment` to ``on_segment`` (the transcript store), which
  returns the stored sequence number. Failed recognitions and lost audio are recorded too
  (status ``failed`` / ``gap``): nothing is dropped silently.

Timing: the first frame anchors the stream on the hearing clock (its arrival time minus its
duration); after that, frame timestamps (``pts``) place the audio. Gaps in the timestamps
up to ``max_gap_fill_s`` are filled with silence; longer ones (the publisher stopped
sending) end the current utterance and re-anchor. Frames without timestamps are placed by
sample count, re-anchored when they arrive more than ``max_gap_fill_s`` later than expected.

The event loop only moves buffers and resamples (microseconds per 20 ms frame); VAD and
recognition run in threads.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np

from .audio import Resampler, frame_duration, frame_time
from .segments import Caption, Clock, SegmentStatus, Speaker, TranscriptSegment, wall_time
from .streaming import StreamAdapter, StreamSettings
from .stt import (
    SAMPLE_RATE,
    STT,
    Decoding,
    RecognizeStream,
    SpeechEvent,
    SpeechEventType,
    STTError,
)
from .vad import VADFactory

log = logging.getLogger(__name__)

SegmentSink = Callable[[TranscriptSegment], Awaitable[int | None]]
"""Stores a final segment; returns its transcript sequence number (or None)."""
CaptionSink = Callable[[Caption], Awaitable[None]]
AudioSink = Callable[[int, np.ndarray], Awaitable[None]]
"""Keeps a stored segment's audio (sequence number, 16 kHz samples) for the final pass."""

_FRAME_S = 0.02  # a WebRTC audio frame, for estimating lost audio


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    language: str | None = None  # None: the engine's default
    decoding: Decoding | None = None  # e.g. the hearing's prompt (vocabulary, names)
    late_after_s: float = 4.0
    max_gap_fill_s: float = 2.0
    sink_retries: int = 3
    sink_retry_backoff_s: float = 0.2
    stream: StreamSettings = field(default_factory=StreamSettings)  # when wrapping an engine


@dataclass(slots=True)
class PipelineStats:
    segments: int = 0  # final segments with text
    failed: int = 0  # utterances whose recognition failed (recorded as such)
    gaps: int = 0  # audio lost before recognition (recorded as such)
    frames_dropped: int = 0  # by the decoded taps
    interim: int = 0
    late: int = 0
    spilled: int = 0  # utterances spooled to disk while recognition was behind
    max_queue_depth: int = 0
    sink_errors: int = 0  # segments the sink refused; kept in TranscriptionPipeline.unsaved
    latencies: list[float] = field(default_factory=list)  # end of speech -> final caption


class TranscriptionPipeline:
    """Transcribes every participant of one hearing. Create one per hearing.

    ``stt``: a streaming engine, or a batch one (then wrapped in a StreamAdapter that this
    pipeline owns; the engine itself is not closed by the pipeline, so one loaded model can
    serve every hearing).
    """

    def __init__(
        self,
        hearing_id: str,
        stt: STT,
        clock: Clock,
        *,
        on_segment: SegmentSink,
        on_caption: CaptionSink | None = None,
        settings: PipelineSettings | None = None,
        vad: VADFactory | None = None,
        on_audio: AudioSink | None = None,
    ) -> None:
        """``on_audio``: given each stored segment's audio (for the final transcript pass;
        only with a batch engine, whose stream adapter cuts the utterances)."""
        self.hearing_id = hearing_id
        self._on_audio = on_audio
        self.clock = clock
        self.settings = settings or PipelineSettings()
        self._on_segment = on_segment
        self._on_caption = on_caption
        self._adapter: StreamAdapter | None = None
        # A VAD-cut utterance runs on for pad_s after the last speech it heard; latency and
        # lateness count from the end of the speech, as a listener perceives it.
        self.trailing_pad_s = 0.0
        if stt.capabilities.streaming:
            self.stt = stt
        else:
            self._adapter = StreamAdapter(stt, vad, self.settings.stream, owns_stt=False)
            self.stt = self._adapter
            self.trailing_pad_s = self.settings.stream.segmenter.pad_s
        self._workers: list[_Worker] = []
        self._closed = False
        self.stats = PipelineStats()
        self.unsaved: list[TranscriptSegment] = []

    def add_participant(
        self,
        frames: AsyncIterator[av.AudioFrame],
        speaker: Speaker,
        *,
        language: str | None = None,
    ) -> ParticipantStream:
        """Start transcribing ``frames`` (ends when they end or on remove_participant).

        ``language``: this speaker's, where it differs from the hearing's (a bilingual
        hearing); None: the pipeline's.
        """
        if self._closed:
            raise RuntimeError("pipeline is closed")
        worker = _Worker(self, frames, speaker, language or self.settings.language)
        self._workers.append(worker)
        worker.start()
        return worker

    def participants(self) -> list[str]:
        return sorted({w.speaker.participant_id for w in self._workers if not w.done})

    def stop_participant(self, participant_id: str) -> Coroutine[Any, Any, None]:
        """Stop reading that participant's audio now; the coroutine returned finishes once
        their last words are final (so that whoever moved them need not wait for it).
        ``aclose`` waits for those words too."""
        workers = [w for w in self._workers if w.speaker.participant_id == participant_id]
        for w in workers:
            w.stop()

        async def finished() -> None:
            for w in workers:
                await w.wait()
            self._workers = [w for w in self._workers if w not in workers]

        return finished()

    async def remove_participant(self, participant_id: str) -> None:
        """Stop reading that participant's audio; returns once their last words are final."""
        await self.stop_participant(participant_id)

    @property
    def backlog(self) -> int:
        """Utterances waiting for recognition across all participants."""
        return sum(w.backlog for w in self._workers)

    def pause_interims(self, paused: bool) -> None:
        """Stop (or resume) interim captions; final captions and the transcript go on. For
        an engine that streams by itself (no adapter) this changes nothing."""
        if self._adapter is not None:
            self._adapter.interims_paused = paused

    async def aclose(self, timeout: float | None = None) -> None:
        """Stop every input and wait until every utterance is final (at most ``timeout`` s;
        after that pending utterances are abandoned and logged as errors)."""
        if self._closed:
            return
        self._closed = True
        for w in self._workers:
            w.stop()
        waiting = asyncio.gather(*(w.wait() for w in self._workers))
        try:
            await asyncio.wait_for(waiting, timeout)
        except TimeoutError:
            pending = self.backlog
            log.error("hearing %s: transcription abandoned with %d utterance(s) pending",
                      self.hearing_id, pending)
            for w in self._workers:
                await w.abort()
        if self._adapter is not None:
            await self._adapter.aclose()

    # -- used by the workers ----------------------------------------------------------------

    async def _store(self, seg: TranscriptSegment) -> int | None:
        s = self.settings
        for attempt in range(s.sink_retries + 1):
            try:
                return await self._on_segment(seg)
            except Exception:
                log.exception("storing a transcript segment failed (attempt %d)", attempt + 1)
                if attempt < s.sink_retries:
                    await asyncio.sleep(s.sink_retry_backoff_s * 2**attempt)
        self.stats.sink_errors += 1
        self.unsaved.append(seg)
        return None

    async def _keep_audio(self, seq: int, audio: np.ndarray) -> None:
        if self._on_audio is None:
            return
        try:
            await self._on_audio(seq, audio)
        except Exception:
            # The live text is stored; only its final pass is lost. Never the captions.
            log.exception("keeping segment %d's audio for the final pass failed", seq)

    async def _caption(self, caption: Caption) -> None:
        if self._on_caption is None:
            return
        try:
            await self._on_caption(caption)
        except Exception:
            log.exception("caption delivery failed")


class ParticipantStream:
    """Handle of one participant's transcription (returned by add_participant)."""

    speaker: Speaker

    @property
    def done(self) -> bool:
        raise NotImplementedError

    async def wait(self) -> None:
        raise NotImplementedError


class _Timeline:
    """Stream sample offsets (16 kHz) to hearing-clock seconds, piecewise linear."""

    def __init__(self) -> None:
        self._samples: list[int] = []
        self._times: list[float] = []

    def anchor(self, sample: int, t: float) -> None:
        if self._samples and self._samples[-1] == sample:
            self._times[-1] = t
            return
        self._samples.append(sample)
        self._times.append(t)

    def at(self, sample: float) -> float:
        i = max(0, bisect.bisect_right(self._samples, sample) - 1)
        return self._times[i] + (sample - self._samples[i]) / SAMPLE_RATE

    def seconds(self, stream_s: float) -> float:
        return self.at(stream_s * SAMPLE_RATE)


class _Worker(ParticipantStream):
    def __init__(
        self, pipeline: TranscriptionPipeline, frames: AsyncIterator[av.AudioFrame],
        speaker: Speaker, language: str | None = None,
    ) -> None:
        self.p = pipeline
        self.frames = frames
        self.speaker = speaker
        self.language = language
        self.timeline = _Timeline()
        self.pushed = 0
        self._stream: RecognizeStream | None = None
        self._consumers: list[asyncio.Task[None]] = []
        self._reader: asyncio.Task[None] | None = None
        self._stopping = False
        self._dropped_seen = 0

    def start(self) -> None:
        name = f"stt-read-{self.speaker.participant_id}"
        self._reader = asyncio.create_task(self._read(), name=name)

    @property
    def done(self) -> bool:
        return self._reader is not None and self._reader.done() and all(
            c.done() for c in self._consumers
        )

    @property
    def backlog(self) -> int:
        return self._stream.backlog if self._stream is not None else 0

    def stop(self) -> None:
        if self._reader is not None and not self._reader.done() and not self._stopping:
            self._stopping = True
            self._reader.cancel()

    async def wait(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        while not all(c.done() for c in self._consumers):
            for c in list(self._consumers):
                with contextlib.suppress(asyncio.CancelledError):
                    await c

    async def abort(self) -> None:
        if self._stream is not None:
            await self._stream.aclose()

    # -- reading ------------------------------------------------------------------------

    def _open_stream(self) -> RecognizeStream:
        # The hearing's prompt is Mandarin; an English speaker of a bilingual hearing gets
        # the engine's own instead.
        decoding = self.p.settings.decoding if self.language == self.p.settings.language else None
        stream = self.p.stt.stream(language=self.language, decoding=decoding)
        self._stream = stream
        task = asyncio.create_task(self._consume(stream),
                                   name=f"stt-events-{self.speaker.participant_id}")
        self._consumers.append(task)
        return stream

    def _push(self, samples: np.ndarray) -> None:
        if not samples.size:
            return
        assert self._stream is not None
        try:
            self._stream.push_audio(samples)
        except STTError as exc:
            # The stream broke (a bug in a lower layer); record the loss, carry on anew.
            self._record_gap(self.timeline.at(self.pushed), samples.size / SAMPLE_RATE,
                             f"recognition stream failed: {exc}")
            self._stream.end_input()
            self._open_stream().push_audio(samples)
        self.pushed += samples.size

    async def _read(self) -> None:
        p = self.p
        resampler = Resampler()
        self._open_stream()
        expected: float | None = None  # pts time where the next frame should start
        first = True
        try:
            async for frame in self.frames:
                arrival = p.clock.now()
                dur = frame_duration(frame)
                pts = frame_time(frame)
                if first:
                    self.timeline.anchor(0, arrival - dur)
                    first = False
                elif pts is not None and expected is not None:
                    self._follow_pts(pts - expected, resampler)
                elif pts is None:
                    lag = (arrival - dur) - self.timeline.at(self.pushed)
                    if lag > p.settings.max_gap_fill_s:
                        self._reanchor(arrival - dur, resampler)
                self._push(resampler.feed(frame))
                expected = pts + dur if pts is not None else None
                self._check_dropped()
        except asyncio.CancelledError:
            if not self._stopping:
                raise
        except Exception as exc:
            log.exception("reading %s's audio failed", self.speaker.participant_id)
            self._record_gap(self.timeline.at(self.pushed) if not first else p.clock.now(),
                             0.0, f"audio input failed: {exc}")
        finally:
            close = getattr(self.frames, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    res = close()
                    if asyncio.iscoroutine(res):
                        await res
            self._check_dropped()
            if self._stream is not None:
                with contextlib.suppress(STTError):
                    self._push(resampler.flush())
                self._stream.end_input()

    def _follow_pts(self, gap: float, resampler: Resampler) -> None:
        if abs(gap) < 3 * _FRAME_S:
            return  # jitter, or frames the decoder concealed
        if 0 < gap <= self.p.settings.max_gap_fill_s:
            self._push(np.zeros(round(gap * SAMPLE_RATE), dtype=np.float32))
            return
        # A long pause in sending, or a new source (timestamps went back): new anchor.
        here = self.timeline.at(self.pushed)
        self._reanchor(here + gap if gap > 0 else self.p.clock.now(), resampler)

    def _reanchor(self, t: float, resampler: Resampler) -> None:
        self._push(resampler.flush())
        assert self._stream is not None
        self._stream.flush()  # no utterance spans the jump
        self.timeline.anchor(self.pushed, t)

    def _check_dropped(self) -> None:
        dropped = getattr(self.frames, "dropped", 0)
        if isinstance(dropped, int) and dropped > self._dropped_seen:
            n = dropped - self._dropped_seen
            self._dropped_seen = dropped
            self.p.stats.frames_dropped += n
            start = self.timeline.at(self.pushed)
            self._record_gap(start, n * _FRAME_S, f"{n} audio frame(s) lost before transcription")

    def _record_gap(self, start: float, duration: float, detail: str) -> None:
        log.error("hearing %s, %s: %s", self.p.hearing_id, self.speaker.participant_id, detail)
        seg = self._segment(start, start + duration, "", SegmentStatus.GAP, detail=detail)
        self.p.stats.gaps += 1
        task = asyncio.create_task(self._store_only(seg))
        self._consumers.append(task)

    async def _store_only(self, seg: TranscriptSegment) -> None:
        await self.p._store(seg)

    # -- results --------------------------------------------------------------------------

    def _segment(
        self, start: float, end: float, text: str, status: SegmentStatus, *,
        engine: str = "", language: str = "", late: bool = False, detail: str = "",
    ) -> TranscriptSegment:
        sp = self.speaker
        return TranscriptSegment(
            hearing_id=self.p.hearing_id,
            participant_id=sp.participant_id,
            name=sp.name,
            role=str(sp.role),
            start=start,
            end=end,
            start_at=wall_time(self.p.clock, start),
            text=text,
            engine=engine or self.p.stt.name,
            language=language,
            status=status,
            late=late,
            detail=detail,
        )

    async def _consume(self, stream: RecognizeStream) -> None:
        p = self.p
        try:
            async for ev in stream:
                await self._on_event(ev)
        finally:
            spilled = getattr(stream, "spilled", 0)
            depth = getattr(stream, "max_queue_depth", 0)
            p.stats.spilled += spilled if isinstance(spilled, int) else 0
            if isinstance(depth, int):
                p.stats.max_queue_depth = max(p.stats.max_queue_depth, depth)

    async def _on_event(self, ev: SpeechEvent) -> None:
        p = self.p
        sp = self.speaker
        start, end = self.timeline.seconds(ev.start), self.timeline.seconds(ev.end)
        if ev.type is SpeechEventType.INTERIM_TRANSCRIPT:
            p.stats.interim += 1
            await p._caption(Caption(p.hearing_id, sp.participant_id, sp.name, str(sp.role),
                                     ev.segment_id, ev.text, start, end, final=False))
        elif ev.type is SpeechEventType.FINAL_TRANSCRIPT:
            if not ev.text:
                return  # the VAD heard something, but nothing was said
            spoken_end = max(start, end - p.trailing_pad_s)
            latency = p.clock.now() - spoken_end
            late = latency > p.settings.late_after_s
            lang = ev.alternatives[0].language if ev.alternatives else ""
            seg = self._segment(start, end, ev.text, SegmentStatus.OK, engine=ev.engine,
                                language=lang, late=late)
            p.stats.segments += 1
            p.stats.late += int(late)
            seq = await p._store(seg)
            latency = p.clock.now() - spoken_end
            p.stats.latencies.append(latency)
            await p._caption(Caption(p.hearing_id, sp.participant_id, sp.name, str(sp.role),
                                     ev.segment_id, ev.text, start, end, final=True,
                                     late=late, latency=latency, seq=seq))
            if seq is not None and ev.audio is not None:  # after the caption: it waits for none
                await p._keep_audio(seq, ev.audio)
        elif ev.type is SpeechEventType.RECOGNITION_FAILED:
            p.stats.failed += 1
            detail = str(ev.error) if ev.error else "recognition failed"
            await p._store(self._segment(start, end, "", SegmentStatus.FAILED, engine=ev.engine,
                                         detail=detail))
