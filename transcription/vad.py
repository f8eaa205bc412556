"""Voice activity detection and the segmenter that cuts a stream into utterances.

A :class:`VAD` scores fixed windows of :data:`WINDOW` samples (32 ms at 16 kHz) with a
speech probability and keeps state across calls (one instance per stream). Two are here:

- :class:`SileroVAD`: the Silero VAD v6 ONNX model that the pinned faster-whisper package
  ships (``faster_whisper/assets/silero_vad_v6.onnx``, checked against its SHA-256), run
  with onnxruntime: accurate on real speech, ~0.2 ms per window.
- :class:`EnergyVAD`: a level detector with an adaptive noise floor, no model: for tests and
  as the fallback when the model is unavailable.

:class:`Segmenter` turns window probabilities into utterances with hysteresis (start at
``threshold``, end after ``min_silence_s`` below ``neg_threshold``), pre-roll padding, and a
maximum length (long speech is cut at its quietest recent window).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from .stt import SAMPLE_RATE, Samples

log = logging.getLogger(__name__)

WINDOW = 512
"""Samples per VAD window (32 ms at 16 kHz); what Silero v5/v6 expect."""

SILERO_V6_SHA256 = "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2"
"""The Silero VAD model shipped by faster-whisper 1.2.1."""

_CONTEXT = 64  # samples of the previous window Silero v6 takes as context


class VAD(Protocol):
    """Scores windows; stateful (one per stream)."""

    def probabilities(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``windows``: shape (n, WINDOW), consecutive; returns n speech probabilities."""
        ...

    def reset(self) -> None: ...


VADFactory = Callable[[], VAD]


class VADUnavailable(RuntimeError):
    """The VAD model cannot be loaded (package missing, file altered)."""


def silero_model_path() -> Path:
    try:
        from faster_whisper.utils import get_assets_path  # type: ignore[import-untyped]
    except ImportError as exc:
        raise VADUnavailable("faster-whisper (which ships the Silero model) is missing") from exc
    return Path(get_assets_path()) / "silero_vad_v6.onnx"


@functools.lru_cache(maxsize=4)
def _silero_session(path: str, sha256: str | None) -> Any:
    try:
        import onnxruntime  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - a dependency of faster-whisper
        raise VADUnavailable("onnxruntime is missing") from exc
    data = Path(path).read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise VADUnavailable(f"{path} does not have the expected SHA-256 {sha256}")
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 4
    # run() on one session is thread-safe; every stream keeps its own state (h, c, context).
    return onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"], sess_options=opts)


class SileroVAD:
    """Silero VAD v6 (ONNX), streaming: carries the LSTM state and context across calls."""

    def __init__(self, model_path: Path | None = None, *, sha256: str | None = SILERO_V6_SHA256):
        path = model_path or silero_model_path()
        if not path.is_file():
            raise VADUnavailable(f"no Silero model at {path}")
        self._session = _silero_session(str(path), sha256)
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def probabilities(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        if windows.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        prev = np.concatenate([self._context[None, :], windows[:-1, -_CONTEXT:]], axis=0)
        batch = np.ascontiguousarray(np.concatenate([prev, windows], axis=1), dtype=np.float32)
        out, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        self._context = windows[-1, -_CONTEXT:].copy()
        return np.asarray(out, dtype=np.float32).reshape(-1)


class EnergyVAD:
    """Level above an adaptive noise floor, mapped to a pseudo-probability. No model."""

    def __init__(self, *, margin_db: float = 12.0, floor_db: float = -60.0) -> None:
        self._margin = margin_db
        self._initial_floor = floor_db
        self.reset()

    def reset(self) -> None:
        self._floor = self._initial_floor

    def probabilities(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = np.zeros(windows.shape[0], dtype=np.float32)
        for i, w in enumerate(windows):
            rms = float(np.sqrt(np.mean(np.square(w, dtype=np.float64)) + 1e-12))
            db = 20.0 * np.log10(rms + 1e-9)
            # The floor falls fast to quiet windows and rises slowly through speech.
            if db < self._floor:
                self._floor = 0.5 * self._floor + 0.5 * db
            else:
                self._floor += 0.003 * (db - self._floor)  # ~10 s to follow louder noise
            self._floor = max(self._floor, -90.0)
            x = (db - (self._floor + self._margin)) / 3.0
            out[i] = 1.0 / (1.0 + np.exp(-x))
        return out


def default_vad_factory() -> VADFactory:
    """Silero if it loads, else the energy detector (logged)."""
    try:
        SileroVAD()
    except VADUnavailable as exc:
        log.warning("Silero VAD unavailable (%s); using the energy VAD", exc)
        return EnergyVAD
    return SileroVAD


@dataclass(frozen=True, slots=True)
class SegmenterSettings:
    threshold: float = 0.5  # a window at or above starts (or continues) speech
    neg_threshold: float = 0.35  # below this a window counts as silence
    min_speech_s: float = 0.25  # shorter bursts are not utterances
    min_silence_s: float = 0.5  # this much silence ends an utterance
    pad_s: float = 0.4  # audio kept before the first and after the last speech window
    max_speech_s: float = 20.0  # longer speech is cut (Whisper reads 30 s at most)


@dataclass(frozen=True, slots=True)
class Utterance:
    """One speech segment: ``start`` in samples from the start of the stream."""

    segment_id: int
    start_sample: int
    samples: Samples

    @property
    def start(self) -> float:
        return self.start_sample / SAMPLE_RATE

    @property
    def end(self) -> float:
        return (self.start_sample + self.samples.size) / SAMPLE_RATE

    @property
    def duration(self) -> float:
        return self.samples.size / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    segment_id: int
    start_sample: int


SegmenterEvent = SpeechStarted | Utterance


class Segmenter:
    """Cuts a stream into :class:`Utterance` objects. Synchronous: run it off the loop."""

    def __init__(self, vad: VAD, settings: SegmenterSettings | None = None) -> None:
        self.vad = vad
        self.s = settings or SegmenterSettings()
        self._pad = int(self.s.pad_s * SAMPLE_RATE)
        self._min_silence = int(self.s.min_silence_s * SAMPLE_RATE)
        self._min_speech = int(self.s.min_speech_s * SAMPLE_RATE)
        self._max_speech = int(self.s.max_speech_s * SAMPLE_RATE)
        self._rest = np.zeros(0, dtype=np.float32)  # < WINDOW samples not yet scored
        self._consumed = 0  # samples scored so far (start of self._rest)
        self._preroll = np.zeros(0, dtype=np.float32)  # the last pad samples while idle
        self._speaking = False
        self._buf: list[Samples] = []  # the current utterance's audio, from _start
        self._buf_len = 0
        self._probs: list[float] = []  # per window of the current utterance, after its pad
        self._start = 0
        self._speech_start = 0  # first speech window (after the pre-roll)
        self._silence = 0  # trailing samples below neg_threshold
        self._next_id = 1
        self._current_id = 0

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def pausing(self) -> bool:
        """Speech is in progress but its last windows were silence: it may be ending."""
        return self._speaking and self._silence > 0

    def current(self) -> Utterance | None:
        """The utterance in progress so far (for interim results), or None."""
        if not self._speaking or not self._buf:
            return None
        return Utterance(self._current_id, self._start, np.concatenate(self._buf))

    def feed(self, samples: Samples) -> list[SegmenterEvent]:
        data = np.concatenate([self._rest, samples]) if self._rest.size else samples
        n = data.size // WINDOW
        self._rest = data[n * WINDOW :].copy()
        if n == 0:
            return []
        windows = data[: n * WINDOW].reshape(n, WINDOW).astype(np.float32, copy=False)
        probs = self.vad.probabilities(windows)
        events: list[SegmenterEvent] = []
        for i in range(n):
            self._window(windows[i], float(probs[i]), events)
        return events

    def flush(self) -> list[SegmenterEvent]:
        """End the current utterance now (with any unscored tail); returns it if long enough."""
        events: list[SegmenterEvent] = []
        if self._speaking:
            if self._rest.size:
                self._buf.append(self._rest)
                self._buf_len += self._rest.size
            self._consumed += self._rest.size
            self._rest = np.zeros(0, dtype=np.float32)
            self._finish(self._buf_len, events)
        else:
            self._consumed += self._rest.size
            self._rest = np.zeros(0, dtype=np.float32)
        self._preroll = np.zeros(0, dtype=np.float32)
        self.vad.reset()
        return events

    # -- internals -----------------------------------------------------------------------

    def _window(self, w: Samples, p: float, events: list[SegmenterEvent]) -> None:
        pos = self._consumed
        self._consumed += WINDOW
        if not self._speaking:
            if p >= self.s.threshold:
                self._speaking = True
                self._current_id = self._next_id
                self._next_id += 1
                self._start = pos - self._preroll.size
                self._speech_start = pos
                self._buf = [self._preroll, w]
                self._buf_len = self._preroll.size + WINDOW
                self._probs = [p]
                self._silence = 0
                events.append(SpeechStarted(self._current_id, self._start))
            else:
                keep = np.concatenate([self._preroll, w])
                self._preroll = keep[-self._pad :] if self._pad else keep[:0]
            return
        self._buf.append(w)
        self._buf_len += WINDOW
        self._probs.append(p)
        if p < self.s.neg_threshold or (p < self.s.threshold and self._silence):
            self._silence += WINDOW
        else:
            self._silence = 0
        if self._silence >= self._min_silence:
            end = self._buf_len - self._silence + self._pad
            self._finish(min(end, self._buf_len), events)
            return
        if self._buf_len >= self._max_speech:
            self._cut_long(events)

    def _finish(self, length: int, events: list[SegmenterEvent]) -> None:
        audio = np.concatenate(self._buf) if self._buf else np.zeros(0, dtype=np.float32)
        utt, tail = audio[:length], audio[length:]
        speech = self._buf_len - (self._speech_start - self._start) - self._silence
        if speech >= self._min_speech and utt.size:
            events.append(Utterance(self._current_id, self._start, utt))
        self._speaking = False
        self._buf, self._buf_len, self._probs, self._silence = [], 0, [], 0
        self._preroll = tail[-self._pad :] if self._pad and tail.size else tail[:0]

    def _cut_long(self, events: list[SegmenterEvent]) -> None:
        """Cut at the quietest window of the last quarter; speech goes on after it."""
        audio = np.concatenate(self._buf)
        lead = self._speech_start - self._start  # pre-roll before the first window
        n = len(self._probs)
        first = max(1, n - n // 4)
        cut_window = first + int(np.argmin(self._probs[first:])) if first < n else n
        cut = lead + cut_window * WINDOW
        utt, rest = audio[:cut], audio[cut:]
        events.append(Utterance(self._current_id, self._start, utt))
        self._current_id = self._next_id
        self._next_id += 1
        self._start += cut
        self._speech_start = self._start
        self._buf, self._buf_len = [rest], rest.size
        self._probs = self._probs[cut_window:]
        self._silence = 0
        events.append(SpeechStarted(self._current_id, self._start))
