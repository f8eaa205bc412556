"""A FIFO of utterances awaiting recognition: bounded in memory, never lossy.

When recognition falls behind, up to ``max_in_memory`` utterances wait in memory; beyond
that each new one is written to a spool file (raw float32) and read back in its turn. So the
memory used is bounded, the order is kept, and no audio is dropped. If the spool cannot be
written the utterance stays in memory and the failure is logged (memory beats losing audio).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .vad import Utterance

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Spilled:
    segment_id: int
    start_sample: int
    n_samples: int
    path: Path


class SpoolReadError(Exception):
    """A spooled utterance could not be read back: its audio is lost (and reported)."""

    def __init__(self, segment_id: int, start_sample: int, n_samples: int, reason: str) -> None:
        super().__init__(f"spooled utterance {segment_id} unreadable: {reason}")
        self.segment_id = segment_id
        self.start_sample = start_sample
        self.n_samples = n_samples


class SpillQueue:
    def __init__(self, max_in_memory: int = 8, spool_dir: Path | None = None) -> None:
        if max_in_memory < 1:
            raise ValueError("max_in_memory must be at least 1")
        self.max_in_memory = max_in_memory
        self._spool_parent = spool_dir
        self._dir: Path | None = None
        self._items: deque[Utterance | _Spilled] = deque()
        self._in_memory = 0
        self._closed = False
        self._wakeup = asyncio.Event()
        self.spilled = 0  # utterances ever written to the spool
        self.max_depth = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put_nowait(self, utt: Utterance) -> None:
        if self._closed:
            raise RuntimeError("queue is closed")
        item: Utterance | _Spilled = utt
        if self._in_memory >= self.max_in_memory:
            item = self._spill(utt)
        if isinstance(item, Utterance):
            self._in_memory += 1
        self._items.append(item)
        self.max_depth = max(self.max_depth, len(self._items))
        self._wakeup.set()

    async def get(self) -> Utterance | None:
        """The next utterance; None once the queue is closed and empty.

        Raises :class:`SpoolReadError` if a spooled utterance cannot be read back.
        """
        while not self._items:
            if self._closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        item = self._items.popleft()
        if isinstance(item, Utterance):
            self._in_memory -= 1
            return item
        return self._load(item)

    def close(self) -> None:
        """No more puts; consumers drain what is queued."""
        self._closed = True
        self._wakeup.set()

    def discard(self) -> None:
        """Drop everything and delete the spool (only when stopping for good)."""
        self._items.clear()
        self._in_memory = 0
        self.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _spill(self, utt: Utterance) -> Utterance | _Spilled:
        try:
            if self._dir is None:
                parent = self._spool_parent
                if parent is not None:
                    parent.mkdir(parents=True, exist_ok=True)
                self._dir = Path(tempfile.mkdtemp(prefix="stt-spool-", dir=parent))
            path = self._dir / f"{utt.segment_id:08d}-{utt.start_sample}.f32"
            utt.samples.astype(np.float32).tofile(path)
        except OSError:
            log.exception("cannot spool utterance %d; keeping it in memory", utt.segment_id)
            return utt
        self.spilled += 1
        return _Spilled(utt.segment_id, utt.start_sample, utt.samples.size, path)

    def _load(self, item: _Spilled) -> Utterance:
        try:
            samples = np.fromfile(item.path, dtype=np.float32)
            item.path.unlink(missing_ok=True)
        except OSError as exc:
            raise SpoolReadError(item.segment_id, item.start_sample, item.n_samples,
                                 str(exc)) from exc
        if samples.size != item.n_samples:
            raise SpoolReadError(item.segment_id, item.start_sample, item.n_samples,
                                 f"{samples.size} samples read, {item.n_samples} written")
        return Utterance(item.segment_id, item.start_sample, samples)
