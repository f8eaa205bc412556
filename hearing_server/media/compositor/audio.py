"""The composite's audio: per-participant buffers, the mix, a soft limiter and the speaker.

Used by the compositor's audio thread only (nothing here is thread-safe). Every input is
resampled to 48 kHz mono s16 and buffered with a small prebuffer (absorbs the inputs'
jitter) and a ceiling (bounds latency when an input runs fast); every 20 ms one block is
taken from each, the unmuted ones summed in float, and a limiter keeps the sum under
-1 dBFS without hard clipping. Levels of every input (muted ones excluded from the speaker
choice) drive speaker_follow.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 48_000
BLOCK = 960  # 20 ms
SILENCE_DB = -100.0


def _db(energy: float) -> float:
    return 10 * math.log10(energy) if energy > 1e-10 else SILENCE_DB


class _Input:
    __slots__ = ("blocks", "buffered", "energy", "primed", "resampler")

    def __init__(self) -> None:
        self.resampler: av.AudioResampler | None = None
        self.blocks: deque[npt.NDArray[np.int16]] = deque()
        self.buffered = 0
        self.primed = False
        self.energy = 0.0  # smoothed mean square, full scale = 1

    def take(self, n: int) -> npt.NDArray[np.int16] | None:
        """``n`` samples, or None when not primed; an underrun pads with silence and
        re-primes."""
        if not self.primed:
            return None
        out = np.zeros(n, np.int16)
        filled = 0
        while filled < n and self.blocks:
            head = self.blocks[0]
            k = min(n - filled, head.shape[0])
            out[filled : filled + k] = head[:k]
            filled += k
            if k == head.shape[0]:
                self.blocks.popleft()
            else:
                self.blocks[0] = head[k:]
        self.buffered -= filled
        if filled < n:
            self.primed = False
        return out

    def drop_oldest(self, n: int) -> None:
        while n > 0 and self.blocks:
            head = self.blocks[0]
            if head.shape[0] <= n:
                self.blocks.popleft()
                n -= head.shape[0]
                self.buffered -= head.shape[0]
            else:
                self.blocks[0] = head[n:]
                self.buffered -= n
                n = 0


@dataclass(slots=True)
class MixStats:
    underruns: int = 0  # blocks an input could not fill
    trimmed_samples: int = 0  # samples dropped to keep an input's latency bounded
    limited_blocks: int = 0  # blocks the limiter turned down


class SoftLimiter:
    """Peak limiter on 20 ms blocks: when a block would exceed ``threshold`` its gain
    drops at once (the whole block, so nothing passes over); afterwards the gain comes
    back smoothly at ``release_db_per_s``. A soft clip above the threshold is the last
    safety net; with the block gain it has nothing to do."""

    def __init__(self, threshold: float = 0.891, release_db_per_s: float = 20.0) -> None:
        self.threshold = threshold
        self._release = 10 ** (release_db_per_s * BLOCK / SAMPLE_RATE / 20)
        self.gain = 1.0

    def process(self, mix: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.int16], bool]:
        """``mix`` (full scale = 1.0) as int16, and whether the gain was below 1."""
        peak = float(np.max(np.abs(mix))) if mix.size else 0.0
        target = min(1.0, self.threshold / peak) if peak > 0 else 1.0
        if target <= self.gain:  # attack: this block's own gain, no overshoot
            out = mix * np.float32(target)
            new_gain = target
        else:  # release: ramp up, never above what this block allows
            new_gain = min(target, self.gain * self._release)
            if new_gain == self.gain == 1.0:
                out = mix
            else:
                ramp = np.linspace(self.gain, new_gain, mix.shape[0], dtype=np.float32)
                out = mix * ramp
        self.gain = new_gain
        limited = new_gain < 0.999
        out = _soft_clip(out, self.threshold)
        pcm = np.clip(np.rint(out * 32767.0), -32767, 32767).astype(np.int16)
        return pcm, limited


def _soft_clip(x: npt.NDArray[np.float32], knee: float) -> npt.NDArray[np.float32]:
    """Identity up to ``knee``, then a tanh curve approaching (never reaching) 1.0: what
    the gain ramp lets through at a loud onset is rounded off, not clipped flat."""
    mag = np.abs(x)
    over = mag > knee
    if not over.any():
        return x
    room = 1.0 - knee
    y = x.copy()
    y[over] = np.sign(x[over]) * (knee + room * np.tanh((mag[over] - knee) / room))
    return y


class AudioMixer:
    """Buffers every participant's audio and mixes the unmuted ones, 20 ms at a time."""

    def __init__(
        self,
        *,
        prebuffer_ms: int = 40,
        max_buffer_ms: int = 200,
        level_time_constant_s: float = 0.3,
    ) -> None:
        self._inputs: dict[str, _Input] = {}
        self._prebuffer = SAMPLE_RATE * prebuffer_ms // 1000
        self._max_buffer = SAMPLE_RATE * max_buffer_ms // 1000
        self._alpha = 1 - math.exp(-(BLOCK / SAMPLE_RATE) / level_time_constant_s)
        self.limiter = SoftLimiter()
        self.stats = MixStats()

    def feed(self, pid: str, frames: Iterable[av.AudioFrame]) -> None:
        """Resample ``frames`` of ``pid`` to 48 kHz mono and buffer them."""
        state = self._inputs.get(pid)
        if state is None:
            state = self._inputs[pid] = _Input()
        for frame in frames:
            for out in self._resample(state, frame):
                samples = out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
                if samples.size:
                    state.blocks.append(samples)
                    state.buffered += samples.size
        if not state.primed and state.buffered >= self._prebuffer:
            state.primed = True
        if state.buffered > self._max_buffer:
            excess = state.buffered - self._prebuffer
            state.drop_oldest(excess)
            self.stats.trimmed_samples += excess

    @staticmethod
    def _resample(state: _Input, frame: av.AudioFrame) -> list[av.AudioFrame]:
        if state.resampler is None:
            state.resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        try:
            return list(state.resampler.resample(frame))
        except ValueError:  # the input's format changed: start a new resampler
            state.resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            return list(state.resampler.resample(frame))

    def mix(
        self, present: Collection[str], unmuted: Collection[str]
    ) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.float32]]:
        """One 20 ms block: int16 mono PCM of the unmuted inputs (limited), and the float
        mix before the limiter. Takes a block from every present input (muted ones too, so
        their buffers stay current); forgets inputs no longer present."""
        for gone in [p for p in self._inputs if p not in present]:
            del self._inputs[gone]
        total = np.zeros(BLOCK, np.float32)
        for pid, state in self._inputs.items():
            was_primed = state.primed
            block = state.take(BLOCK)
            if block is None:
                state.energy *= 1 - self._alpha
                continue
            if was_primed and not state.primed:
                self.stats.underruns += 1
            f = block.astype(np.float32) * (1 / 32768)
            ms = float(np.dot(f, f)) / BLOCK
            state.energy += self._alpha * (ms - state.energy)
            if pid in unmuted:
                total += f
        pcm, limited = self.limiter.process(total)
        if limited:
            self.stats.limited_blocks += 1
        return pcm, total

    def levels(self) -> dict[str, float]:
        """Smoothed level of each input in dBFS (a full-scale sine is about -3 dBFS)."""
        return {pid: _db(state.energy) for pid, state in self._inputs.items()}

    def buffered_ms(self, pid: str) -> float:
        state = self._inputs.get(pid)
        return 0.0 if state is None else state.buffered * 1000 / SAMPLE_RATE


class SpeakerTracker:
    """Who speaks: the loudest input above ``threshold_db``. A new speaker takes over when
    louder than the current one by ``margin_db`` for ``min_lead_s``, and not sooner than
    ``hold_s`` after the previous switch; silence keeps the last speaker."""

    def __init__(
        self,
        *,
        threshold_db: float = -45.0,
        margin_db: float = 3.0,
        min_lead_s: float = 0.4,
        hold_s: float = 1.5,
    ) -> None:
        self.threshold_db = threshold_db
        self.margin_db = margin_db
        self.min_lead_s = min_lead_s
        self.hold_s = hold_s
        self.current: str | None = None
        self._candidate: str | None = None
        self._candidate_since = 0.0
        self._switched_at = -math.inf

    def update(self, levels: Mapping[str, float], now: float) -> str | None:
        if self.current is not None and self.current not in levels:
            self.current = None
        audible = {p: lv for p, lv in levels.items() if lv >= self.threshold_db}
        if not audible:
            self._candidate = None
            return self.current
        loudest = max(audible, key=lambda p: audible[p])
        if self.current is None:
            self._switch(loudest, now)
        elif loudest == self.current or (
            audible[loudest] < levels.get(self.current, SILENCE_DB) + self.margin_db
        ):
            self._candidate = None
        else:
            if self._candidate != loudest:
                self._candidate, self._candidate_since = loudest, now
            if (
                now - self._candidate_since >= self.min_lead_s
                and now - self._switched_at >= self.hold_s
            ):
                self._switch(loudest, now)
        return self.current

    def _switch(self, pid: str, now: float) -> None:
        self.current, self._candidate, self._switched_at = pid, None, now


__all__ = ["BLOCK", "SAMPLE_RATE", "AudioMixer", "MixStats", "SoftLimiter", "SpeakerTracker"]
